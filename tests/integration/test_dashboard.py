"""The live dashboard in a real headless Chromium, driven over the DevTools protocol: refused
without a key, live with one, a fill on screen within seconds of it being produced, a drawdown
violation and the halted account shown; a screenshot is kept with the test output."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

from fillstream.broker.local import free_port
from tests.pipeline import Pipeline
from tests.support import ADMIN_KEY, REPO_ROOT, SinkProcess

SCREENSHOT = REPO_ROOT / "var" / "test-output" / "dashboard.png"


class Browser:
    """One headless Chromium page and its DevTools connection."""

    def __init__(self, profile: Path) -> None:
        chromium = shutil.which("chromium")
        assert chromium, "chromium is needed (Debian package chromium; `make test` installs it)"
        self.port = free_port()
        self.process = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--remote-debugging-port={self.port}", f"--user-data-dir={profile}",
             "--window-size=1400,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._ids = 0
        self.credentials: tuple[str, str] | None = None

    async def __aenter__(self) -> Browser:
        self._session = aiohttp.ClientSession()
        deadline = time.monotonic() + 30
        while True:
            try:
                async with self._session.get(f"http://127.0.0.1:{self.port}/json/list") as r:
                    pages = [t for t in await r.json() if t["type"] == "page"]
                if pages:
                    break
            except aiohttp.ClientError:
                pass
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            await asyncio.sleep(0.2)
        self._ws = await self._session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._ws.close()
        await self._session.close()
        self.process.terminate()
        self.process.wait(30)

    async def call(self, method: str, **params: Any) -> dict:
        mine = await self._send(method, **params)
        while True:
            message = json.loads((await self._ws.receive(timeout=60)).data)
            if message.get("id") == mine:
                assert "error" not in message, message
                return message["result"]
            await self._answer(message)

    async def _answer(self, event: dict) -> None:
        """The browser's side of a Basic challenge: the user's name and key, or Cancel."""
        if event.get("method") == "Fetch.requestPaused":
            request = event["params"]["requestId"]
            await self._send("Fetch.continueRequest", requestId=request)
        elif event.get("method") == "Fetch.authRequired":
            if self.credentials is None:
                answer = {"response": "CancelAuth"}
            else:
                user, key = self.credentials
                answer = {"response": "ProvideCredentials", "username": user, "password": key}
            await self._send(
                "Fetch.continueWithAuth",
                requestId=event["params"]["requestId"],
                authChallengeResponse=answer,
            )

    async def _send(self, method: str, **params: Any) -> int:
        self._ids += 1
        await self._ws.send_json({"id": self._ids, "method": method, "params": params})
        return self._ids

    async def open(self, url: str, credentials: tuple[str, str] | None = None) -> None:
        """Navigate as a person would: asked for a user name and password, typing the key as
        the password (``credentials``) or cancelling."""
        self.credentials = credentials
        await self.call("Fetch.enable", handleAuthRequests=True)
        await self.call("Page.navigate", url=url)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def until(self, expression: str, check, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = await self.evaluate(expression)
            if check(value):
                return value
            assert time.monotonic() < deadline, f"{expression} is still {value!r}"
            await asyncio.sleep(0.1)


TABLE = (
    "[...document.querySelectorAll('#{} tbody tr')].map(r => [...r.cells].map(c => c.innerText))"
)


async def test_the_dashboard_in_headless_chromium(
    with_sink: tuple[Pipeline, SinkProcess], tmp_path: Path
) -> None:
    pipeline, sink = with_sink
    url = f"http://127.0.0.1:{sink.port}/dashboard"
    async with Browser(tmp_path / "chromium") as browser:
        await browser.open(url)
        refused = await browser.until("document.body.innerText", lambda t: "API key" in (t or ""))
        assert json.loads(refused) == {
            "error": "missing or unknown API key (Authorization: Bearer <key>)"}  # fmt: skip

        await browser.open(url, ("operator", ADMIN_KEY))
        await browser.until(
            "document.getElementById('t-updated').textContent", lambda t: ":" in (t or "")
        )
        assert await browser.evaluate("document.getElementById('t-accounts').textContent") == "0"

        await pipeline.instrument("BTC-USD", taker_fee_bps="10")
        await pipeline.account("ann", "10000")
        await pipeline.account("ben", "10000", max_drawdown_pct="5")
        await pipeline.tick("BTC-USD", "250.5")
        await pipeline.order("ann", "o1", "BTC-USD", "buy", "4")
        await pipeline.order_events("o1")
        produced = time.monotonic()
        fills = await browser.until(TABLE.format("fills"), lambda rows: rows)
        shown_after = time.monotonic() - produced
        assert [row[1:] for row in fills] == [
            ["ann", "o1", "BTC-USD", "buy", "4", "250.5", "1.002"]]  # fmt: skip
        assert shown_after < 10, f"the fill took {shown_after:.1f} s to show"

        # ben buys 20 at 250.5 (fee 5.01), then the price falls to 200: worth 8 980.99 after
        # the fee to sell (4), 10.15 % below its peak of 9 994.99; over its 5 % limit, it is
        # halted and its position sold at 200 (realized 20 * -50.5 = -1 010).
        await pipeline.order("ben", "o2", "BTC-USD", "buy", "20")
        await pipeline.order_events("o2")
        await pipeline.tick("BTC-USD", "200")
        violations = await browser.until(TABLE.format("violations"), lambda rows: rows)
        assert [row[1:] for row in violations] == [
            ["ben", "drawdown_violation", "drawdown 10.15 %"]
        ]
        accounts = await browser.until(
            TABLE.format("accounts"), lambda rows: [r[1] for r in rows] == ["active", "halted"]
        )
        assert [row[:8] for row in accounts] == [
            ["ann", "active", "9998.998", "9998.998", "0.00", "1", "0", "1.002"],
            ["ben", "halted", "8980.99", "9994.99", "10.15", "2", "-1010", "9.01"],
        ]
        curves = await browser.evaluate(
            "[...document.querySelectorAll('#curves .curve')].map(c => [c.dataset.account,"
            " c.querySelector('polyline').getAttribute('points').split(' ').length,"
            " c.querySelectorAll('span')[1].textContent])"
        )
        assert curves == [["ann", 1, "9998.998"], ["ben", 2, "8980.99"]]
        await pipeline.send("orders", "ann", b"{not json")
        tile = "document.getElementById('t-dead-letters').textContent"
        assert await browser.until(tile, lambda n: n == "1")
        assert await browser.evaluate("document.getElementById('error').textContent") == ""
        shot = await browser.call("Page.captureScreenshot", format="png")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.write_bytes(base64.b64decode(shot["data"]))
    print(f"screenshot: {SCREENSHOT}")

"""Speech for 46elks, which has no TTS: espeak-ng (Debian package `espeak-ng`, voice `sv`)
renders each text to WAV, held in this process for a few minutes under an unguessable token
and served at `/api/v1/channels/phone/46elks/audio/<token>.wav` for the provider to play.

Decision: without espeak-ng the 46elks dialect does not start (a ConfigError at start-up
names the package). A recorded fallback could only say fixed prompts — never a call-out's
message or a lägesbild — so a half-speaking IVR would be worse than a clear refusal; the TwiML
dialect needs no espeak-ng (the provider speaks `<Say language="sv-SE">`).
Clips live in one process: behind several processes, route the audio path to the one that
answers the provider's webhooks (or run the phone webhooks on one process).
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import time
from collections import OrderedDict
from collections.abc import Callable

from ...config import ConfigError

CLIP_TTL_S = 600.0
MAX_CLIPS = 500
MAX_TEXT = 4000


class SpeechFailed(Exception):
    pass


def find_espeak(name: str = "espeak-ng") -> str:
    path = shutil.which(name)
    if path is None:
        raise ConfigError("WIS_PHONE_PROVIDER=46elks needs espeak-ng for speech (46elks has "
                          "no text-to-speech): apt-get install espeak-ng")
    return path


class SpeechClips:
    """Text → WAV (cached per text) → a short-lived token per use."""

    def __init__(self, espeak: str, *, ttl_s: float = CLIP_TTL_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.espeak = espeak
        self.ttl_s = ttl_s
        self._now = monotonic
        self._audio: OrderedDict[str, bytes] = OrderedDict()  # by text
        self._tokens: OrderedDict[str, tuple[float, str]] = OrderedDict()  # → (expiry, text)
        self.rendered = 0  # espeak-ng runs (for tests and /readyz)

    async def render(self, text: str) -> bytes:
        if text in self._audio:
            self._audio.move_to_end(text)
            return self._audio[text]
        process = await asyncio.create_subprocess_exec(
            self.espeak, "-v", "sv", "-s", "150", "--stdout",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        try:
            wav, _ = await asyncio.wait_for(process.communicate(text[:MAX_TEXT].encode()), 30)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise SpeechFailed("espeak-ng timed out") from None
        if process.returncode != 0 or not wav.startswith(b"RIFF"):
            raise SpeechFailed("espeak-ng failed")
        self.rendered += 1
        self._audio[text] = wav
        while len(self._audio) > MAX_CLIPS:
            self._audio.popitem(last=False)
        return wav

    async def token_for(self, text: str) -> str:
        await self.render(text)
        self._expire()
        token = secrets.token_urlsafe(24)
        self._tokens[token] = (self._now() + self.ttl_s, text)
        while len(self._tokens) > MAX_CLIPS * 4:
            self._tokens.popitem(last=False)
        return token

    def text_of(self, token: str) -> str | None:
        """The text behind a live token (tests; never logged)."""
        held = self._tokens.get(token)
        return held[1] if held and held[0] > self._now() else None

    def audio(self, token: str) -> bytes | None:
        text = self.text_of(token)
        return self._audio.get(text) if text is not None else None

    def _expire(self) -> None:
        now = self._now()
        for token in [t for t, (expiry, _) in self._tokens.items() if expiry <= now]:
            del self._tokens[token]

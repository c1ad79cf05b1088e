"""One internal model of what a call does, and a renderer per dialect (protocol doc 2.4). Pure.

    Script = (Say | Gather | JoinConference | Hangup, ...)   run in order
    TwiML:  <Response><Say language="sv-SE">…</Say><Gather action=…>…</Gather>
            <Redirect>action</Redirect>…</Response>
    46elks: {"play": <clip URL>, "next": {"ivr": <clip URL>, "digits": 8, "next": <URL>}}

A Gather always ends in its `action` webhook, with the digits or with none (TwiML falls
through to a <Redirect> to the same URL; 46elks' `ivr` goes to `next`), so both dialects
reach the same handler for "no input". 46elks has no speech: every text is a clip URL from
`clips` (espeak-ng audio the caller made beforehand, see speech.py).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

LANGUAGE = "sv-SE"


@dataclass(frozen=True, slots=True)
class Say:
    text: str


@dataclass(frozen=True, slots=True)
class Gather:
    """Say `prompt`, collect up to `max_digits` (ended early by `#`), then POST to `action`."""

    prompt: tuple[Say, ...]
    action: str
    max_digits: int = 1
    timeout_s: int = 6


@dataclass(frozen=True, slots=True)
class JoinConference:
    """Put the caller into the conference `room` (TwiML <Conference>, whose join/leave
    events go to `status_url`); on 46elks, `connect` to `bridge`."""

    room: str
    status_url: str
    bridge: str | None = None
    caller_id: str | None = None


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


Verb = Say | Gather | JoinConference | Hangup
Script = tuple[Verb, ...]


def spoken(script: Script) -> list[str]:
    """Every text the script speaks, in order (46elks: the clips to make first)."""
    texts: list[str] = []
    for verb in script:
        if isinstance(verb, Say):
            texts.append(verb.text)
        elif isinstance(verb, Gather) and verb.prompt:
            texts.append(gather_text(verb))
    return texts


def gather_text(gather: Gather) -> str:
    return " ".join(say.text for say in gather.prompt)


# --- TwiML -------------------------------------------------------------------------------

def _say(parent: ET.Element, text: str) -> None:
    ET.SubElement(parent, "Say", language=LANGUAGE).text = text


def render_twiml(script: Script) -> str:
    """The `<Response>` document (UTF-8 XML, escaped by ElementTree)."""
    root = ET.Element("Response")
    for verb in script:
        if isinstance(verb, Say):
            _say(root, verb.text)
        elif isinstance(verb, Gather):
            gather = ET.SubElement(root, "Gather", input="dtmf", action=verb.action,
                                   method="POST", numDigits=str(verb.max_digits),
                                   finishOnKey="#", timeout=str(verb.timeout_s))
            for say in verb.prompt:
                _say(gather, say.text)
            ET.SubElement(root, "Redirect", method="POST").text = verb.action
        elif isinstance(verb, JoinConference):
            dial = ET.SubElement(root, "Dial")
            ET.SubElement(dial, "Conference", beep="true", startConferenceOnEnter="true",
                          endConferenceOnExit="false", maxParticipants="250",
                          statusCallback=verb.status_url, statusCallbackMethod="POST",
                          statusCallbackEvent="join leave").text = verb.room
        else:
            ET.SubElement(root, "Hangup")
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")


# --- 46elks ------------------------------------------------------------------------------

class MissingClip(KeyError):
    """A text of the script has no clip URL (the caller must make every clip first)."""


def _clip(clips: Mapping[str, str], text: str) -> str:
    try:
        return clips[text]
    except KeyError:
        raise MissingClip("no audio clip for a text of the script") from None


def render_elks(script: Script, clips: Mapping[str, str]) -> dict[str, object]:
    """The chained call action (`next` nests the rest). A Gather ends the chain (its `ivr`
    goes to `action`); a conference is a `connect` to the line's bridge."""
    actions: list[dict[str, object]] = []
    for verb in script:
        if isinstance(verb, Say):
            actions.append({"play": _clip(clips, verb.text)})
        elif isinstance(verb, Gather):
            actions.append({"ivr": _clip(clips, gather_text(verb)), "digits": verb.max_digits,
                            "timeout": max(1, min(30, verb.timeout_s)), "repeat": 1,
                            "next": verb.action})
            break
        elif isinstance(verb, JoinConference):
            if verb.bridge is None:
                raise ValueError("46elks joins a conference through its bridge address")
            action: dict[str, object] = {"connect": verb.bridge}
            if verb.caller_id:
                action["callerid"] = verb.caller_id
            actions.append(action)
            break
        else:
            actions.append({"hangup": "reject"} if not actions else {})
            break
    chain: dict[str, object] = {}
    for action in reversed([a for a in actions if a]):
        # Only the last action may lead to a URL (ivr); every earlier one nests the rest.
        chain = {**action, "next": chain} if chain else action
    return chain or {"hangup": "reject"}


def render_elks_json(script: Script, clips: Mapping[str, str]) -> str:
    return json.dumps(render_elks(script, clips), ensure_ascii=False, separators=(",", ":"))

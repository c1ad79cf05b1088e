"""The phone adapter's pure core: the TwiML signature (the provider's published vectors, a
tampered body, a wrong URL), both renderers, the IVR's choices and what it may say (public
only, through the channel policy), the webhook parsers and the settings."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from wis_server.channels.phone import ivr, signature
from wis_server.channels.phone.script import (
    Gather,
    Hangup,
    JoinConference,
    MissingClip,
    Say,
    render_elks,
    render_twiml,
    spoken,
)
from wis_server.channels.phone.settings import PhoneSettings, Provider
from wis_server.channels.phone.settings import parse_phone_settings as _parse_phone_settings
from wis_server.channels.phone.webhooks import Outcome, parse_elks, parse_twiml
from wis_server.channels.sms_webhooks import WebhookError
from wis_server.config import ConfigError
from wis_server.domain.levels import Classification, ReportSectionKey

# Twilio's published request-validation example (auth token 12345): the vector of the
# webhook-security docs page, and the one in the provider's own libraries' tests.
TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOCS_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
               "From": "+12349013030", "To": "+18005551212"}
DOCS_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
LIB_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
              "From": "+14158675309", "To": "+18005551212"}
LIB_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
LIB_BODY = b'{"property": "value", "boolean": true}'
LIB_BODY_SHA256 = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"


@pytest.mark.parametrize(("params", "expected"), [(DOCS_PARAMS, DOCS_SIGNATURE),
                                                  (LIB_PARAMS, LIB_SIGNATURE)])
def test_published_vectors(params: dict[str, str], expected: str) -> None:
    assert signature.compute(TOKEN, URL, params.items()) == expected
    shuffled = list(reversed(list(params.items())))  # order of the form does not matter
    assert signature.valid(TOKEN, URL, shuffled, expected)


def test_tampered_body_wrong_url_wrong_token_and_no_signature_fail() -> None:
    tampered = {**DOCS_PARAMS, "Digits": "9999"}
    assert not signature.valid(TOKEN, URL, list(tampered.items()), DOCS_SIGNATURE)
    extra = [*DOCS_PARAMS.items(), ("AnsweredBy", "human")]
    assert not signature.valid(TOKEN, URL, extra, DOCS_SIGNATURE)
    for wrong in ("https://mycompany.com/myapp.php?foo=1&bar=3",
                  "http://mycompany.com/myapp.php?foo=1&bar=2",
                  "https://evil.example/myapp.php?foo=1&bar=2",
                  "https://mycompany.com/myapp.php"):
        assert not signature.valid(TOKEN, wrong, list(DOCS_PARAMS.items()), DOCS_SIGNATURE)
    assert not signature.valid("54321", URL, list(DOCS_PARAMS.items()), DOCS_SIGNATURE)
    assert not signature.valid(TOKEN, URL, list(DOCS_PARAMS.items()), None)
    assert not signature.valid(TOKEN, URL, list(DOCS_PARAMS.items()), "")
    assert not signature.valid("", URL, list(DOCS_PARAMS.items()), DOCS_SIGNATURE)


def test_default_port_added_or_dropped_by_a_proxy_still_validates() -> None:
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert signature.valid(TOKEN, with_port, list(DOCS_PARAMS.items()), DOCS_SIGNATURE)
    signed_with_port = signature.compute(TOKEN, with_port, DOCS_PARAMS.items())
    assert signature.valid(TOKEN, URL, list(DOCS_PARAMS.items()), signed_with_port)
    other = "https://mycompany.com:8443/myapp.php?foo=1&bar=2"
    assert not signature.valid(TOKEN, other, list(DOCS_PARAMS.items()), DOCS_SIGNATURE)


def test_json_body_hash_vector() -> None:
    url = f"https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256={LIB_BODY_SHA256}"
    sig = signature.compute(TOKEN, url)
    assert signature.valid(TOKEN, url, [], sig, body=LIB_BODY)
    assert not signature.valid(TOKEN, url, [], sig, body=LIB_BODY + b" ")


def _url(step: ivr.Step, tries: int) -> str:
    return f"https://wis.example/api/v1/channels/phone/twiml/gather?step={step.value}&tries={tries}"


def test_twiml_menu_speaks_swedish_and_gathers_to_the_signed_url() -> None:
    xml = render_twiml(ivr.menu(_url, has_conference=True, first=True))
    root = ET.fromstring(xml.split("?>", 1)[1])
    assert root.tag == "Response"
    say, gather, redirect = list(root)
    assert say.tag == "Say" and say.get("language") == "sv-SE" and say.text == ivr.WELCOME
    assert gather.get("action") == _url(ivr.Step.MENU, 0) and gather.get("numDigits") == "8"
    assert gather.get("finishOnKey") == "#" and gather.get("input") == "dtmf"
    assert "PIN-kod" in (gather.find("Say").text or "")  # type: ignore[union-attr]
    assert redirect.tag == "Redirect" and redirect.text == _url(ivr.Step.MENU, 0)
    assert "&amp;tries=0" in xml  # escaped in the document, the same URL once parsed


def test_twiml_conference_and_hangup() -> None:
    xml = render_twiml(ivr.join("wis-1", "https://wis.example/s?conference=1", None, None))
    conference = ET.fromstring(xml.split("?>", 1)[1]).find("Dial/Conference")
    assert conference is not None and conference.text == "wis-1"
    assert conference.get("statusCallbackEvent") == "join leave"
    assert conference.get("statusCallback") == "https://wis.example/s?conference=1"
    assert render_twiml(ivr.goodbye()).endswith("<Hangup /></Response>")


def test_elks_chains_clips_and_ends_in_ivr_or_connect() -> None:
    script = ivr.menu(_url, has_conference=True, first=True, before=["Fel PIN-kod."])
    texts = spoken(script)
    clips = {t: f"https://wis.example/a/{i}.wav" for i, t in enumerate(texts)}
    doc = render_elks(script, clips)
    assert doc["play"] == clips[ivr.WELCOME]
    nested = doc["next"]
    assert isinstance(nested, dict) and nested["play"] == clips["Fel PIN-kod."]
    menu = nested["next"]
    assert isinstance(menu, dict) and menu["ivr"] == clips[texts[-1]]
    assert menu["next"] == _url(ivr.Step.MENU, 0) and menu["digits"] == 8
    joined = render_elks(ivr.join("wis-1", "u", "+46850001000", "+46850000001"),
                         {"Du ansluts nu till konferensen.": "c"})
    assert joined == {"play": "c", "next": {"connect": "+46850001000",
                                            "callerid": "+46850000001"}}
    assert render_elks((Hangup(),), {}) == {"hangup": "reject"}
    assert json.loads(json.dumps(render_elks(ivr.goodbye(), {ivr.GOODBYE: "g"}))) == \
        {"play": "g"}
    with pytest.raises(MissingClip):
        render_elks((Say("ohört"),), {})
    with pytest.raises(ValueError):
        render_elks((JoinConference("r", "u"),), {})


@pytest.mark.parametrize(("digits", "choice"), [
    ("", ivr.Choice.NONE), ("#", ivr.Choice.NONE), ("1", ivr.Choice.ACK),
    ("1#", ivr.Choice.ACK), ("2", ivr.Choice.REPORT), ("9", ivr.Choice.REPEAT),
    ("4711", ivr.Choice.PIN), ("123456#", ivr.Choice.PIN), ("3", ivr.Choice.INVALID),
    ("12", ivr.Choice.INVALID), ("123456789", ivr.Choice.INVALID), ("1*", ivr.Choice.INVALID)])
def test_menu_choice(digits: str, choice: ivr.Choice) -> None:
    assert ivr.menu_choice(digits) is choice


def test_too_many_tries_say_goodbye() -> None:
    assert isinstance(ivr.menu(_url, has_conference=True, tries=3)[-1], Hangup)
    assert isinstance(ivr.ask_code(_url, 3)[-1], Hangup)
    assert isinstance(ivr.callout_menu(_url, "x", can_join=False, tries=3)[-1], Hangup)
    assert isinstance(ivr.menu(_url, has_conference=False, tries=2)[-1], Gather)


SECTIONS = [
    ivr.SpokenSection(ReportSectionKey.EVENT, Classification.PUBLIC, True,
                      "Storm över Mälardalen."),
    ivr.SpokenSection(ReportSectionKey.CONSEQUENCES, Classification.SEKRETESS, True,
                      "Vattenverket Lovö har reservkraft i sex timmar."),
    ivr.SpokenSection(ReportSectionKey.NEEDS, Classification.HEMLIG, True,
                      "Skyddsobjekt Alfa saknar bevakning."),
    ivr.SpokenSection(ReportSectionKey.FORECAST, Classification.PUBLIC, False,
                      "Bara för Region Stockholm."),
    ivr.SpokenSection(ReportSectionKey.MEASURES_TAKEN, Classification.PUBLIC, True,
                      "Vägar   plogas."),
]


def test_readout_speaks_only_public_sections_for_everyone() -> None:
    moment = datetime(2026, 12, 2, 3, 30, tzinfo=UTC)
    text = ivr.readout_text(3, moment, SECTIONS)
    assert text.startswith("Senaste lägesbilden, version 3, publicerad 2026-12-02 klockan 04:30.")
    assert "Händelse: Storm över Mälardalen." in text and "Vidtagna åtgärder: Vägar plogas." in text
    for withheld in ("Lovö", "reservkraft", "Alfa", "bevakning", "Region Stockholm"):
        assert withheld not in text
    assert [s.key for s in SECTIONS if ivr.speakable(s)] == [
        ReportSectionKey.EVENT, ReportSectionKey.MEASURES_TAKEN]
    only_classified = [s for s in SECTIONS if s.level is not Classification.PUBLIC]
    assert ivr.readout_text(4, moment, only_classified) == \
        "Det finns ingen öppen lägesbild att läsa upp."
    assert ivr.readout_text(None, None, []).startswith("Det finns ingen")
    long = [ivr.SpokenSection(ReportSectionKey.EVENT, Classification.PUBLIC, True, "ord " * 900)]
    assert len(ivr.readout_text(1, None, long)) <= ivr.READOUT_MAX_CHARS + 4


def _speech(level: Classification, **kw: object) -> ivr.CalloutSpeech:
    base = dict(level=level, exercise=False, owner_name="Länsstyrelsen",
                message="Storm över Mälardalen, samverkan behövs.",
                start_at=datetime(2026, 12, 2, 15, 0, tzinfo=UTC), dial_in="+46 8 555 123",
                pin="4711", can_join=True)
    base.update(kw)
    return ivr.CalloutSpeech(**base)  # type: ignore[arg-type]


def test_callout_text_public_carries_details_classified_only_a_pointer() -> None:
    text = ivr.callout_text(_speech(Classification.PUBLIC))
    assert "Aktivering från Länsstyrelsen." in text and "Storm över Mälardalen" in text
    assert "ring plus 4 6 8 5 5 5 1 2 3" in text and "PIN-kod 4 7 1 1" in text
    assert "2026-12-02 klockan 16:00" in text
    for level in (Classification.SEKRETESS, Classification.HEMLIG):
        said = ivr.callout_text(_speech(level))
        assert "Storm" not in said and "4 7 1 1" not in said and "5 5 5" not in said
        assert level.value in said and "Logga in i WIS" in said
    assert ivr.callout_text(_speech(Classification.PUBLIC, exercise=True)).startswith("Övning.")


def test_parse_twiml_call_events() -> None:
    inbound = parse_twiml({"CallSid": "CA1", "From": "+46701234567", "To": "+46850000001",
                           "Direction": "inbound", "CallStatus": "ringing"})
    assert inbound.inbound and inbound.caller == "+46701234567" and inbound.ended is None
    out = parse_twiml({"CallSid": "CA2", "From": "+46850000001", "To": "070-123 45 67",
                       "Direction": "outbound-api", "CallStatus": "completed",
                       "AnsweredBy": "machine_end_beep", "CallDuration": "12"})
    assert not out.inbound and out.caller == "+46701234567" and out.line == "+46850000001"
    assert out.ended is Outcome.MACHINE and out.machine and out.duration_s == 12
    assert parse_twiml({"CallSid": "CA3", "From": "a", "To": "b",
                        "CallStatus": "no-answer"}).ended is Outcome.NO_ANSWER
    human = parse_twiml({"CallSid": "CA4", "From": "+46850000001", "To": "+46701234567",
                         "Direction": "outbound-api", "AnsweredBy": "human"})
    assert human.human and not human.machine
    join = parse_twiml({"CallSid": "CA5", "From": "+46701234567", "To": "+46850000001",
                        "StatusCallbackEvent": "participant-join", "ConferenceSid": "CF1"})
    assert join.conference == "join" and join.ended is None
    for bad, code in (({"From": "a", "To": "b"}, "phone_webhook_missing_field"),
                      ({"CallSid": "x" * 2001, "From": "a", "To": "b"},
                       "phone_webhook_field_too_long"),
                      ({"CallSid": "C", "From": "a", "To": "b", "Digits": "1<2"},
                       "phone_webhook_invalid_field"),
                      ({"CallSid": "C", "From": "a", "To": "b", "CallStatus": "exploded"},
                       "phone_webhook_invalid_field")):
        with pytest.raises(WebhookError) as error:
            parse_twiml(bad)
        assert error.value.code == code


def test_parse_elks_call_events() -> None:
    ivr_next = parse_elks({"callid": "c1", "from": "+46701234567", "to": "+46766860001",
                           "direction": "incoming", "result": "4711"})
    assert ivr_next.inbound and ivr_next.digits == "4711"
    hangup = parse_elks({"id": "c2", "from": "+46766860001", "to": "+46701234567",
                         "direction": "outgoing", "state": "success", "duration": "31"},
                        hangup=True)
    assert not hangup.inbound and hangup.ended is Outcome.ANSWERED and hangup.duration_s == 31
    assert parse_elks({"id": "c3", "from": "a", "to": "b", "direction": "outgoing",
                       "state": "failed"}, hangup=True).ended is Outcome.NO_ANSWER
    with pytest.raises(WebhookError):
        parse_elks({"id": "c4", "from": "a", "to": "b", "state": "maybe"}, hangup=True)


BASE = {"WIS_PHONE_PROVIDER": "twiml", "WIS_PHONE_API_URL": "https://api.twilio.com",
        "WIS_PHONE_API_USER": "AC123", "WIS_PHONE_API_PASSWORD": "token-abc",
        "WIS_PHONE_NUMBERS": "+46850000001, +46850000002",
        "WIS_PUBLIC_URL": "https://wis.example.se"}


def parse_phone_settings(env: dict[str, str]) -> PhoneSettings | None:
    """As bootstrap calls it: WIS_PUBLIC_URL comes from the server section, not the env."""
    return _parse_phone_settings(env, env.get("WIS_PUBLIC_URL", ""))


def test_settings() -> None:
    assert parse_phone_settings({}) is None
    settings = parse_phone_settings(BASE)
    assert settings is not None and settings.provider is Provider.TWIML
    assert settings.numbers == ("+46850000001", "+46850000002")
    assert "token-abc" not in repr(settings)
    elks = parse_phone_settings({**BASE, "WIS_PHONE_PROVIDER": "46elks",
                                 "WIS_PHONE_WEBHOOK_SECRET": "s" * 20,
                                 "WIS_PHONE_BRIDGES": "+46850009001,sip:konf2@bridge.example"})
    assert elks is not None and elks.bridge_for("+46850000002") == "sip:konf2@bridge.example"
    for bad in ({"WIS_PHONE_PROVIDER": "asterisk"}, {"WIS_PHONE_NUMBERS": "0850000001"},
                {"WIS_PHONE_NUMBERS": "+46850000001,+46850000001"},
                {"WIS_PHONE_API_PASSWORD": ""}, {"WIS_PUBLIC_URL": ""},
                {"WIS_PHONE_API_URL": "ftp://x"}, {"WIS_PHONE_BRIDGES": "+46850009001"},
                {"WIS_PHONE_PROVIDER": "46elks", "WIS_PHONE_WEBHOOK_SECRET": "short"},
                {"WIS_PHONE_PROVIDER": "46elks", "WIS_PHONE_WEBHOOK_SECRET": "s" * 20},
                {"WIS_PHONE_RING_TIMEOUT_S": "2"}):
        with pytest.raises(ConfigError):
            parse_phone_settings({**BASE, **bad})


def test_an_audio_clip_token_is_never_logged() -> None:
    from wis_server.api.middleware import _route_path

    path = "/api/v1/channels/phone/46elks/audio/Zm9vYmFyLXRva2VuLXNlY3JldA.wav"
    assert _route_path({"path": path}) == "/api/v1/channels/phone/46elks/audio/{secret}"
    assert _route_path({"path": "/api/v1/channels/phone/46elks/voice"}) == \
        "/api/v1/channels/phone/46elks/voice"


def test_the_compact_sync_carries_a_conference_line_and_pin() -> None:
    from wis_server.api.sync_shapes import SyncRender
    from wis_server.domain.conferences import Booking, Participant
    from wis_server.domain.events import EventKind
    from wis_server.realtime.ports import Change

    at = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    booking = Booking("c1", "s1", "a1", "+46850000001", "471100", "u1", at, participants=(
        Participant("p1", "CA1", "+46701234567", None, at),
        Participant("p2", "CA2", "+46701234568", None, at, at)))
    change = Change("s1", 7, EventKind.CONFERENCE_JOINED, "c1", (), booking)
    doc = json.loads(SyncRender({})(change, None, None, (True,)) or "")  # type: ignore[arg-type]
    assert doc == {"seq": 7, "event": "conference.joined", "id": "c1", "status": "active",
                   "dial_in": "+46850000001", "pin": "471100", "joined": 1}
    assert SyncRender({})(change, None, None, (False,)) is None  # type: ignore[arg-type]

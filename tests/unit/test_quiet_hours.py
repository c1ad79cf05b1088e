"""Quiet hours and the event filter of notification preferences (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, time

from wis_server.domain.notifications import (
    NotificationPreferences,
    NotifyEvent,
    QuietHours,
    SpacesMode,
)

NIGHT = QuietHours(time(22, 0), time(6, 30))  # Europe/Stockholm


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_message_inside_a_window_over_midnight_waits_for_its_end() -> None:
    # 23:30 in Stockholm (CET, UTC+1) on 10 January: held until 06:30 the next morning
    assert NIGHT.release_at(utc("2026-01-10T22:30:00")) == utc("2026-01-11T05:30:00")
    # 03:00 local: the same night's end
    assert NIGHT.release_at(utc("2026-01-11T02:00:00")) == utc("2026-01-11T05:30:00")


def test_outside_the_window_and_at_its_end_a_message_goes_at_once() -> None:
    for moment in ("2026-01-10T20:59:00", "2026-01-11T05:30:00", "2026-01-11T12:00:00"):
        assert NIGHT.release_at(utc(moment)) == utc(moment)


def test_the_window_is_local_time_across_daylight_saving() -> None:
    # 23:00 local on 28 March 2026 is 22:00 UTC (CET); 06:30 local on the 29th is CEST
    assert NIGHT.release_at(utc("2026-03-28T22:00:00")) == utc("2026-03-29T04:30:00")
    day = QuietHours(time(12, 0), time(13, 0), "America/New_York")
    assert day.release_at(utc("2026-06-01T16:15:00")) == utc("2026-06-01T17:00:00")


def test_an_activated_space_is_never_held() -> None:
    prefs = NotificationPreferences(quiet_hours=NIGHT)
    at = utc("2026-01-10T23:00:00")
    assert prefs.not_before(at, activated=True) == at
    assert prefs.not_before(at, activated=False) == utc("2026-01-11T05:30:00")


def test_being_added_to_a_space_ignores_the_chosen_spaces() -> None:
    prefs = NotificationPreferences(spaces=SpacesMode.CHOSEN, space_ids=frozenset({"s1"}),
                                    events=frozenset({NotifyEvent.SPACE_ADDED,
                                                      NotifyEvent.NOTICE}))
    assert prefs.wants(NotifyEvent.SPACE_ADDED, "new-space")
    assert prefs.wants(NotifyEvent.NOTICE, "s1")
    assert not prefs.wants(NotifyEvent.NOTICE, "new-space")
    assert not NotificationPreferences(events=frozenset({NotifyEvent.NOTICE})).wants(
        NotifyEvent.SPACE_ADDED, "new-space")

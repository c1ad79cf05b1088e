"""The call-out ladder over simulated time: every state and transition of domain.callouts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from wis_server.domain.callouts import (
    AckChannel,
    Answer,
    Callout,
    CalloutStatus,
    Conference,
    Contact,
    EscalationPolicy,
    Notify,
    Target,
    TargetState,
    TellEditors,
    advance,
    answer,
    delivered,
    escalate_now,
    failed,
    message_text,
    missing_text,
    next_due,
    next_due_at,
    start,
    tick,
)
from wis_server.domain.levels import Classification, ContactKind

T0 = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
STEP = timedelta(minutes=10)
POLICY = EscalationPolicy(step=STEP, deadline=timedelta(minutes=60))
DEADLINE = T0 + POLICY.deadline


def contacts(actor: str, n: int) -> tuple[Contact, ...]:
    kinds = [ContactKind.SMS, ContactKind.EMAIL, ContactKind.PHONE]
    return tuple(Contact(f"{actor}-c{i}", actor, i, kinds[i % 3], f"+4670000000{i}",
                         f"{i}2345{i}") for i in range(n))


def callout(*actors: tuple[str, int], exercise: bool = False,
            level: Classification = Classification.PUBLIC) -> Callout:
    return Callout(
        "co1", "space1", "owner", "user1", T0, DEADLINE, level, "Storm, samverkan behövs",
        Conference(T0 + timedelta(minutes=30), "+46 8 123 456", "4711"), exercise,
        tuple(Target(a, T0) for a, _ in actors),
        tuple(c for a, n in actors for c in contacts(a, n)))


def test_the_whole_ladder_one_step_at_a_time() -> None:
    cs = contacts("a", 3)
    t = Target("a", T0)
    assert t.state is TargetState.PENDING
    assert next_due(t, cs, POLICY, DEADLINE) == T0

    t, steps = advance(t, cs, T0, POLICY, DEADLINE)
    assert t.state is TargetState.NOTIFIED and t.stage == 0
    assert steps == [Notify("a", ("a-c0",), "first")]
    assert next_due(t, cs, POLICY, DEADLINE) == T0 + STEP

    # Not yet due: nothing happens, however often asked.
    t2, steps = advance(t, cs, T0 + STEP - timedelta(seconds=1), POLICY, DEADLINE)
    assert (t2, steps) == (t, [])

    t, steps = advance(t, cs, T0 + STEP, POLICY, DEADLINE)
    assert t.state is TargetState.ESCALATED and t.stage == 1
    assert steps == [Notify("a", ("a-c1",), "next")]
    t, steps = advance(t, cs, T0 + 2 * STEP, POLICY, DEADLINE)
    assert steps == [Notify("a", ("a-c2",), "next")]
    t, steps = advance(t, cs, T0 + 3 * STEP, POLICY, DEADLINE)
    assert t.stage == 3 and steps == [Notify("a", ("a-c0", "a-c1", "a-c2"), "all")]
    t, steps = advance(t, cs, T0 + 4 * STEP, POLICY, DEADLINE)
    assert t.stage == 4 and t.state is TargetState.ESCALATED
    assert steps == [TellEditors(("a",), "escalation")]
    assert t.missing_reported_at == T0 + 4 * STEP
    # After the editors: nothing more until the deadline.
    assert next_due(t, cs, POLICY, DEADLINE) == DEADLINE
    assert advance(t, cs, T0 + 5 * STEP, POLICY, DEADLINE) == (t, [])
    t, steps = advance(t, cs, DEADLINE, POLICY, DEADLINE)
    assert t.state is TargetState.OVERDUE and t.overdue_at == DEADLINE and steps == []
    assert next_due(t, cs, POLICY, DEADLINE) is None
    assert advance(t, cs, DEADLINE + STEP, POLICY, DEADLINE) == (t, [])


def test_no_contact_points_tells_the_editors_at_once() -> None:
    t, steps = start(Target("a", T0), (), T0)
    assert steps == [TellEditors(("a",), "escalation")]
    assert t.state is TargetState.ESCALATED


def test_delivery_receipt_moves_notified_to_delivered_only_on_the_first_stage() -> None:
    cs = contacts("a", 2)
    t, _ = start(Target("a", T0), cs, T0)
    t, c = delivered(t, cs[0], T0 + timedelta(seconds=5))
    assert t.state is TargetState.DELIVERED and c.delivered_at == T0 + timedelta(seconds=5)
    # a second receipt keeps the first time
    _, c2 = delivered(t, c, T0 + timedelta(seconds=9))
    assert c2.delivered_at == c.delivered_at
    # delivered is not an answer: the ladder goes on
    t, steps = advance(t, cs, T0 + STEP, POLICY, DEADLINE)
    assert t.state is TargetState.ESCALATED and steps == [Notify("a", ("a-c1",), "next")]
    t3, _ = delivered(t, cs[1], T0 + STEP)
    assert t3.state is TargetState.ESCALATED


def test_acknowledgement_ends_the_ladder_and_is_idempotent() -> None:
    cs = contacts("a", 3)
    t, _ = start(Target("a", T0), cs, T0)
    at = T0 + timedelta(minutes=4)
    t, changed = answer(t, "a-c0", Answer.ACKNOWLEDGE, at, AckChannel.SMS)
    assert changed and t.state is TargetState.ACKNOWLEDGED
    assert t.time_to_answer == timedelta(minutes=4) and t.answer_channel is AckChannel.SMS
    again, changed = answer(t, "a-c1", Answer.ACKNOWLEDGE, at + STEP, AckChannel.WEB, "u2")
    assert not changed and again == t  # the first answer stays: when, by whom, over which
    assert answer(t, "a-c0", Answer.DECLINE, at + STEP, AckChannel.SMS) == (t, False)
    assert advance(t, cs, T0 + 6 * STEP, POLICY, DEADLINE) == (t, [])
    assert next_due(t, cs, POLICY, DEADLINE) is None
    assert escalate_now(t, cs, at) == (t, [])


def test_decline_then_acknowledge_wins_and_late_acknowledgement_counts() -> None:
    cs = contacts("a", 1)
    t, _ = start(Target("a", T0), cs, T0)
    t, changed = answer(t, "a-c0", Answer.DECLINE, T0 + STEP, AckChannel.SMS)
    assert changed and t.state is TargetState.DECLINED
    assert answer(t, "a-c0", Answer.DECLINE, T0 + STEP, AckChannel.SMS) == (t, False)
    assert advance(t, cs, DEADLINE, POLICY, DEADLINE) == (t, [])  # an answer is not overdue
    t, changed = answer(t, None, Answer.ACKNOWLEDGE, T0 + 2 * STEP, AckChannel.WEB, "u1",
                        "Anna")
    assert changed and t.state is TargetState.ACKNOWLEDGED and t.answered_by_name == "Anna"

    late, _ = advance(start(Target("b", T0), cs, T0)[0], cs, DEADLINE, POLICY, DEADLINE)
    assert late.state is TargetState.OVERDUE
    late, changed = answer(late, "a-c0", Answer.ACKNOWLEDGE, DEADLINE + STEP, AckChannel.LINK)
    assert changed and late.state is TargetState.ACKNOWLEDGED
    assert late.time_to_answer == POLICY.deadline + STEP


def test_escalate_now_goes_to_all_at_once_then_to_the_editors() -> None:
    cs = contacts("a", 3)
    t, _ = start(Target("a", T0), cs, T0)
    now = T0 + timedelta(minutes=1)
    t, steps = escalate_now(t, cs, now)
    assert t.stage == 3 and steps == [Notify("a", ("a-c0", "a-c1", "a-c2"), "now")]
    assert next_due(t, cs, POLICY, DEADLINE) == now + STEP  # the clock restarts
    t, steps = escalate_now(t, cs, now)
    assert steps == [TellEditors(("a",), "escalation")]
    assert escalate_now(t, cs, now) == (t, [])
    # a pending actor escalated at once
    p, steps = escalate_now(Target("b", T0), cs, now)
    assert steps[0] == Notify("b", ("a-c0", "a-c1", "a-c2"), "now") and p.stage == 3


def test_tick_aggregates_editor_messages_and_overdue() -> None:
    c = callout(("a", 1), ("b", 1), ("c", 0))
    c, steps = tick(c, T0, POLICY)
    assert Notify("a", ("a-c0",), "first") in steps and Notify("b", ("b-c0",), "first") in steps
    assert steps[-1] == TellEditors(("c",), "escalation")
    c = replace(c, targets=tuple(
        answer(t, "b-c0", Answer.ACKNOWLEDGE, T0 + STEP, AckChannel.SMS)[0]
        if t.actor_id == "b" else t for t in c.targets))
    assert next_due_at(c, POLICY) == T0 + STEP
    c, steps = tick(c, T0 + STEP, POLICY)   # a: all at once (one contact: a reminder)
    assert steps == [Notify("a", ("a-c0",), "all")]
    c, steps = tick(c, T0 + 2 * STEP, POLICY)
    assert steps == [TellEditors(("a",), "escalation")]
    assert c.missing == ("a", "c")
    c, steps = tick(c, DEADLINE, POLICY)
    assert steps == [TellEditors(("a", "c"), "overdue")]
    assert [t.state for t in c.targets] == [TargetState.OVERDUE, TargetState.ACKNOWLEDGED,
                                            TargetState.OVERDUE]
    assert next_due_at(c, POLICY) is None
    assert tick(replace(c, status=CalloutStatus.CLOSED), DEADLINE, POLICY)[1] == []


def test_classified_callout_messages_are_content_free_pointers() -> None:
    c = callout(("a", 1), level=Classification.SEKRETESS, exercise=True)
    contact = c.contacts[0]
    subject, body = message_text(c, contact, carry_content=False)
    assert "SEKRETESS" in body and f"Svara OK {contact.code}" in body
    for secret in ("Storm", "4711", "123 456"):
        assert secret not in body and secret not in subject
    _, full = message_text(c, contact, carry_content=True, actor_name="Länsstyrelsen")
    assert "Storm" in full and "PIN 4711" in full and "+46 8 123 456" in full
    # the code first: a cut to the channel's length takes the free text, never the code
    assert full.startswith(f"AKTIVERING från Länsstyrelsen. Svara OK {contact.code}")
    assert full.index(contact.code) < full.index("PIN") < full.index("Storm")
    subject, missing = missing_text(c, {"a": "Solna stad"}, ("a",), "overdue")
    assert "Solna stad" in missing and "Storm" not in missing and "försenad" in subject


def test_audience_of_a_classified_callout_is_caller_and_summoned() -> None:
    assert callout(("a", 1)).audience is None
    assert callout(("a", 1), ("b", 0), level=Classification.SEKRETESS).audience == \
        frozenset({"owner", "a", "b"})


def test_a_failed_contact_point_moves_the_ladder_on_at_once_only_from_its_own_stage() -> None:
    cs = contacts("a", 3)
    t, _ = start(Target("a", T0), cs, T0)
    later = T0 + timedelta(seconds=7)
    # A failure of a contact point the ladder is not standing on changes nothing.
    assert failed(t, cs, "a-c1", later) == (t, [])
    t, steps = failed(t, cs, "a-c0", later)
    assert t.stage == 1 and t.stage_at == later and t.state is TargetState.ESCALATED
    assert steps == [Notify("a", ("a-c1",), "failover")]
    # the step runs from the failover, not from the start
    assert next_due(t, cs, POLICY, DEADLINE) == later + STEP
    t, steps = failed(t, cs, "a-c1", later)
    assert steps == [Notify("a", ("a-c2",), "failover")]
    t, steps = failed(t, cs, "a-c2", later)  # the last one: all at once, as the ladder does
    assert t.stage == 3 and steps == [Notify("a", ("a-c0", "a-c1", "a-c2"), "all")]
    assert failed(t, cs, "a-c0", later) == (t, [])  # stage "all": the step decides
    answered, _ = answer(t, "a-c2", Answer.ACKNOWLEDGE, later, AckChannel.SMS)
    assert failed(answered, cs, "a-c2", later) == (answered, [])


def test_reach_and_ledger_from_the_delivery_lines() -> None:
    from wis_server.domain.callouts import ContactDelivery

    c = callout(("a", 3), ("b", 2), ("c", 1))
    t1, t2 = T0 + timedelta(seconds=3), T0 + timedelta(seconds=9)
    lines = {"a-c0": ContactDelivery("sms", "failed", error="channel_down"),
             "a-c1": ContactDelivery("email", "sent", sent_at=t1),
             "b-c0": ContactDelivery("sms", "delivered", sent_at=t1, delivered_at=t2),
             "b-c1": ContactDelivery("email", "sent", sent_at=t2)}
    c = replace(c, contacts=tuple(replace(k, delivery=lines.get(k.id)) for k in c.contacts))
    # a: the e-mail was taken (not confirmed); b: SMS confirmed wins over a later e-mail
    a, b = c.reach("a"), c.reach("b")
    assert a is not None and (a.channel, a.at, a.confirmed, a.contact_id) == (
        "email", t1, False, "a-c1")
    assert b is not None and (b.channel, b.at, b.confirmed) == ("sms", t2, True)
    assert c.reach("c") is None  # nothing went out yet
    # c answered over its SMS contact point: the answer proves the reach
    answered, _ = answer(c.targets[2], "c-c0", Answer.ACKNOWLEDGE, t2, AckChannel.SMS)
    c = replace(c, targets=(c.targets[0], c.targets[1], answered))
    got = c.reach("c")
    assert got is not None and (got.channel, got.at, got.confirmed) == ("sms", t2, True)
    assert c.ledger() == {
        "sms": {"sent": 1, "delivered": 1, "failed": 1, "acknowledged": 1},
        "email": {"sent": 2, "delivered": 0, "failed": 0, "acknowledged": 0}}

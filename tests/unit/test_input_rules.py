"""The directory's input rules hold for every caller, not only for requests the API's schema
checked: the demo, imports and other services write contact points through them too."""

from __future__ import annotations

import pytest

from wis_server.domain.errors import ValidationFailed
from wis_server.domain.levels import ContactKind
from wis_server.domain.model import ContactPoint
from wis_server.services.input_rules import normalise_contact_point


@pytest.mark.parametrize("priority", [0, -1, 100, True])
def test_a_contact_priority_outside_1_to_99_is_refused(priority: int) -> None:
    with pytest.raises(ValidationFailed) as refused:
        normalise_contact_point(ContactPoint(ContactKind.RAKEL_ISSI, "2011234", priority))
    assert refused.value.code == "invalid_contact_priority"
    assert refused.value.field == "contact_points"


@pytest.mark.parametrize("priority", [1, 2, 99])
def test_a_contact_priority_in_range_is_kept(priority: int) -> None:
    point = normalise_contact_point(ContactPoint(ContactKind.SMS, "070-123 45 67", priority))
    assert (point.value, point.priority) == ("+46701234567", priority)

"""Grade rules: core never, important with approval, general automatically when it fits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts import (
    Grade,
    InvalidTime,
    NotLeasable,
    Outcome,
    Prohibition,
    Purpose,
    Terms,
    TermsViolation,
    Use,
    decide,
    grant,
)
from tests.contracts.contracts_samples import OFFER, T0, licence_for, request


@pytest.mark.parametrize(
    ("grade", "outcome"),
    [
        (Grade.GENERAL, Outcome.AUTO_GRANT),
        (Grade.IMPORTANT, Outcome.NEEDS_APPROVAL),
        (Grade.CORE, Outcome.REFUSED),
    ],
)
def test_a_fitting_request_is_decided_by_the_grade_of_the_data(
    grade: Grade, outcome: Outcome
) -> None:
    assert decide(grade, OFFER, request()).outcome is outcome


def test_core_data_is_refused_whatever_the_request() -> None:
    decision = decide(Grade.CORE, OFFER, request())
    assert decision.reasons == ("core data is never leasable (Data Security Law)",)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"purpose": Purpose.MODEL_TRAINING}, "purpose model-training is not among the offer's"),
        ({"end": T0 + timedelta(days=90, hours=1)}, "period of 91 days exceeds the offer's 90"),
        ({"uses": frozenset({Use.READ, Use.DERIVE})}, "uses derive are not permitted"),
        ({"territory": "CN-BJ"}, "territory CN-BJ is outside CN-GD"),
        ({"territory": "CN"}, "territory CN is outside CN-GD"),
        ({"downloads": 6}, "6 downloads exceed the offer's 5"),
        ({"link_pseudonyms": True}, "does not allow linking pseudonyms across leases"),
    ],
)
@pytest.mark.parametrize("grade", [Grade.GENERAL, Grade.IMPORTANT])
def test_a_request_outside_the_offer_is_refused_with_the_reason(
    grade: Grade, changes: dict[str, object], reason: str
) -> None:
    decision = decide(grade, OFFER, request(**changes))
    assert decision.outcome is Outcome.REFUSED
    assert any(reason in text for text in decision.reasons), decision.reasons


def test_every_misfit_is_listed_at_once() -> None:
    decision = decide(Grade.GENERAL, OFFER, request(territory="US", downloads=99))
    assert len(decision.reasons) == 2


def test_important_data_needs_explicit_approval_to_grant() -> None:
    with pytest.raises(NotLeasable, match="needs the provider's explicit approval"):
        grant(
            Grade.IMPORTANT,
            OFFER,
            request(),
            uid="L1",
            assigner="p",
            assignee="b",
            target="d",
        )
    assert licence_for(Grade.IMPORTANT).grade is Grade.IMPORTANT


def test_core_data_never_gets_a_licence() -> None:
    with pytest.raises(NotLeasable, match="core data is never leasable"):
        licence_for(Grade.CORE)


def test_a_refused_request_gets_no_licence() -> None:
    with pytest.raises(TermsViolation, match="purpose commercial-analytics is not among"):
        licence_for(Grade.GENERAL, purpose=Purpose.COMMERCIAL_ANALYTICS)


def test_a_granted_licence_carries_the_request_and_the_offer_prohibitions() -> None:
    licence = licence_for(Grade.GENERAL)
    assert licence.purpose is Purpose.TRAFFIC_PLANNING
    assert licence.prohibitions == frozenset(Prohibition)
    assert (licence.max_downloads, licence.territory) == (3, "CN-GD-SZ")
    assert not licence.cross_lease_linking and licence.delete_at_end


def test_downloads_are_allowed_only_while_active_and_within_the_count() -> None:
    licence = licence_for(Grade.GENERAL)
    licence.check_download(T0 + timedelta(days=1), downloads_so_far=2)
    assert licence.is_active(T0) and not licence.is_active(licence.end)
    with pytest.raises(TermsViolation, match="allows 3 downloads; all are used"):
        licence.check_download(T0 + timedelta(days=1), downloads_so_far=3)
    with pytest.raises(TermsViolation, match="ended at 2025-03-31") as ended:
        licence.check_download(licence.end, downloads_so_far=0)
    assert ended.value.context["expired"] is True
    with pytest.raises(TermsViolation, match="starts at"):
        licence.check_download(T0 - timedelta(seconds=1), downloads_so_far=0)


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: request(end=T0), TermsViolation, "is not after its start"),
        (lambda: request(start=T0.replace(tzinfo=None)), InvalidTime, "timezone-aware"),
        (lambda: request(purpose="sightseeing"), ValueError, "sightseeing"),
        (lambda: request(uses=frozenset({"sell"})), TermsViolation, "known Use values: read"),
        (lambda: request(uses="read"), TermsViolation, "not the string 'read'"),
        (lambda: request(downloads=0), TermsViolation, "downloads must be a positive int"),
        (lambda: Terms(allowed_purposes=frozenset()), TermsViolation, "at least one purpose"),
    ],
)
def test_malformed_terms_and_requests_are_refused(build, error, message: str) -> None:
    with pytest.raises(error, match=message):
        build()

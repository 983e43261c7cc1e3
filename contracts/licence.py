"""Licence terms and the grade rules of the Data Security Law.

An offer publishes :class:`Terms`; a buyer sends a :class:`LeaseRequest`;
:func:`decide` applies the grade rules (core data is never leasable, important
data needs the provider's approval and an allowed purpose, general data is
granted automatically when the request fits the offer); :func:`grant` turns an
accepted request into the :class:`Licence` both parties agree to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from contracts.errors import NotLeasable, TermsViolation
from contracts.utc import require_utc


class Purpose(StrEnum):
    """The controlled vocabulary of purposes a lease may be granted for."""

    TRAFFIC_PLANNING = "traffic-planning"
    PUBLIC_SERVICE_OPERATION = "public-service-operation"
    URBAN_PLANNING = "urban-planning"
    EMERGENCY_MANAGEMENT = "emergency-management"
    ENVIRONMENTAL_MONITORING = "environmental-monitoring"
    ACADEMIC_RESEARCH = "academic-research"
    COMMERCIAL_ANALYTICS = "commercial-analytics"
    MODEL_TRAINING = "model-training"


class Grade(StrEnum):
    """Data classification grades of the Data Security Law."""

    CORE = "core"
    IMPORTANT = "important"
    GENERAL = "general"


class Use(StrEnum):
    """What a buyer may do with an extract (ODRL 2.2 action names)."""

    READ = "read"
    AGGREGATE = "aggregate"
    DERIVE = "derive"  # derived statistics, reports and models
    DISPLAY = "display"
    ARCHIVE = "archive"


class Prohibition(StrEnum):
    """What a buyer must never do with an extract."""

    REIDENTIFICATION = "reidentification"
    ONWARD_TRANSFER = "onward-transfer"
    LINKING_TO_IDENTIFY = "linking-to-identify"


class Outcome(StrEnum):
    AUTO_GRANT = "auto_grant"
    NEEDS_APPROVAL = "needs_approval"
    REFUSED = "refused"


ALL_PROHIBITIONS = frozenset(Prohibition)
E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True)
class Terms:
    """What an offer allows; the limits a lease request must fit in."""

    allowed_purposes: frozenset[Purpose]
    permitted_uses: frozenset[Use] = frozenset({Use.READ, Use.AGGREGATE, Use.DERIVE})
    prohibitions: frozenset[Prohibition] = ALL_PROHIBITIONS
    territories: frozenset[str] = frozenset({"CN"})
    max_period_days: int = 365
    max_downloads: int = 10
    cross_lease_linking: bool = False
    delete_at_end: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed_purposes", _members(Purpose, self.allowed_purposes))
        object.__setattr__(self, "permitted_uses", _members(Use, self.permitted_uses))
        object.__setattr__(self, "prohibitions", _members(Prohibition, self.prohibitions))
        object.__setattr__(self, "territories", frozenset(self.territories))
        if not self.allowed_purposes:
            raise TermsViolation("an offer must allow at least one purpose")
        _positive_int(self.max_period_days, "max_period_days")
        _positive_int(self.max_downloads, "max_downloads")


@dataclass(frozen=True)
class LeaseRequest:
    """What a buyer asks for: purpose, period, uses, territory, downloads, linking."""

    purpose: Purpose
    start: datetime
    end: datetime
    purpose_text: str = ""
    uses: frozenset[Use] = frozenset({Use.READ})
    territory: str = "CN"
    downloads: int = 1
    link_pseudonyms: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "purpose", Purpose(self.purpose))
        object.__setattr__(self, "uses", _members(Use, self.uses))
        start, end = require_utc(self.start, "lease start"), require_utc(self.end, "lease end")
        if end <= start:
            raise TermsViolation(f"lease end {end.isoformat()} is not after its start")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        _positive_int(self.downloads, "downloads")


@dataclass(frozen=True)
class Decision:
    """The outcome of :func:`decide`, with every reason that led to it."""

    outcome: Outcome
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def refused(self) -> bool:
        return self.outcome is Outcome.REFUSED


def decide(grade: Grade, offer_terms: Terms, request: LeaseRequest) -> Decision:
    """Apply the grade rules: core never; important with approval; general automatically."""
    grade = Grade(grade)
    if grade is Grade.CORE:
        return Decision(Outcome.REFUSED, ("core data is never leasable (Data Security Law)",))
    misfits = tuple(terms_misfits(offer_terms, request))
    if misfits:
        return Decision(Outcome.REFUSED, misfits)
    if grade is Grade.IMPORTANT:
        return Decision(
            Outcome.NEEDS_APPROVAL,
            ("important data needs the provider's explicit approval",),
        )
    return Decision(Outcome.AUTO_GRANT, ("general data and the request fits the offer",))


def terms_misfits(terms: Terms, request: LeaseRequest) -> Iterable[str]:
    """Each way in which ``request`` falls outside ``terms``."""
    if request.purpose not in terms.allowed_purposes:
        allowed = ", ".join(sorted(terms.allowed_purposes))
        yield f"purpose {request.purpose} is not among the offer's purposes ({allowed})"
    days = _days(request.start, request.end)
    if days > terms.max_period_days:
        yield f"period of {days} days exceeds the offer's {terms.max_period_days} days"
    extra = request.uses - terms.permitted_uses
    if extra:
        yield f"uses {', '.join(sorted(extra))} are not permitted by the offer"
    if not territory_within(request.territory, terms.territories):
        yield f"territory {request.territory} is outside {', '.join(sorted(terms.territories))}"
    if request.downloads > terms.max_downloads:
        yield f"{request.downloads} downloads exceed the offer's {terms.max_downloads}"
    if request.link_pseudonyms and not terms.cross_lease_linking:
        yield "the offer does not allow linking pseudonyms across leases"


def territory_within(territory: str, allowed: Iterable[str]) -> bool:
    """ISO 3166 codes: ``CN-GD`` lies within ``CN``; ``CN`` does not lie within ``CN-GD``."""
    return any(territory == area or territory.startswith(area + "-") for area in allowed)


@dataclass(frozen=True)
class Licence:
    """The agreed terms of one lease (exported as an ODRL Agreement)."""

    uid: str
    assigner: str  # the provider
    assignee: str  # the buyer
    target: str  # the dataset or extract
    grade: Grade
    purpose: Purpose
    purpose_text: str
    start: datetime
    end: datetime
    permitted_uses: frozenset[Use]
    prohibitions: frozenset[Prohibition]
    territory: str
    max_downloads: int
    cross_lease_linking: bool
    delete_at_end: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "grade", Grade(self.grade))
        if self.grade is Grade.CORE:
            raise NotLeasable(f"licence {self.uid}: core data is never leasable")
        object.__setattr__(self, "purpose", Purpose(self.purpose))
        object.__setattr__(self, "permitted_uses", _members(Use, self.permitted_uses))
        object.__setattr__(self, "prohibitions", _members(Prohibition, self.prohibitions))
        object.__setattr__(self, "start", require_utc(self.start, "licence start"))
        object.__setattr__(self, "end", require_utc(self.end, "licence end"))
        if self.end <= self.start:
            raise TermsViolation(f"licence {self.uid}: end is not after start")
        _positive_int(self.max_downloads, "max_downloads")

    def is_active(self, now: datetime) -> bool:
        """True from ``start`` (inclusive) to ``end`` (exclusive)."""
        return self.start <= require_utc(now, "now") < self.end

    def check_download(self, now: datetime, downloads_so_far: int) -> None:
        """Raise TermsViolation unless one more download is allowed at ``now``."""
        now = require_utc(now, "now")
        if now < self.start:
            raise TermsViolation(
                f"licence {self.uid} starts at {self.start.isoformat()}", uid=self.uid
            )
        if now >= self.end:
            raise TermsViolation(
                f"licence {self.uid} ended at {self.end.isoformat()}", uid=self.uid, expired=True
            )
        if downloads_so_far >= self.max_downloads:
            raise TermsViolation(
                f"licence {self.uid} allows {self.max_downloads} downloads; all are used",
                uid=self.uid,
            )


def grant(
    grade: Grade,
    terms: Terms,
    request: LeaseRequest,
    *,
    uid: str,
    assigner: str,
    assignee: str,
    target: str,
    provider_approved: bool = False,
) -> Licence:
    """Issue the licence for an accepted request; refuse what :func:`decide` refuses."""
    decision = decide(grade, terms, request)
    if Grade(grade) is Grade.CORE:
        raise NotLeasable(decision.reasons[0], grade=str(grade))
    if decision.refused:
        raise TermsViolation("; ".join(decision.reasons), reasons=decision.reasons)
    if decision.outcome is Outcome.NEEDS_APPROVAL and not provider_approved:
        raise NotLeasable(
            f"{grade} data needs the provider's explicit approval before licence {uid}",
            grade=str(grade),
        )
    return Licence(
        uid=uid,
        assigner=assigner,
        assignee=assignee,
        target=target,
        grade=grade,
        purpose=request.purpose,
        purpose_text=request.purpose_text,
        start=request.start,
        end=request.end,
        permitted_uses=request.uses,
        prohibitions=terms.prohibitions,
        territory=request.territory,
        max_downloads=request.downloads,
        cross_lease_linking=request.link_pseudonyms,
        delete_at_end=terms.delete_at_end,
    )


def _members(enum: type[E], values: Iterable[str]) -> frozenset[E]:
    if isinstance(values, str):
        raise TermsViolation(f"expected a set of {enum.__name__} values, not the string {values!r}")
    try:
        return frozenset(enum(value) for value in values)
    except ValueError as exc:
        known = ", ".join(member.value for member in enum)
        raise TermsViolation(f"{exc}; known {enum.__name__} values: {known}") from None


def _positive_int(value: object, name: str) -> None:
    if type(value) is not int or value <= 0:
        raise TermsViolation(f"{name} must be a positive int; got {value!r}")


def _days(start: datetime, end: datetime) -> int:
    """Whole days a period spans, a part day counting as a day."""
    return -(-(end - start) // timedelta(days=1))

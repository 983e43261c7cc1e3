"""Licences as W3C ODRL 2.2 ``Agreement`` policies in JSON-LD, and back.

ODRL's own vocabulary carries what it can: permissions per use with ``dateTime``,
``purpose`` and ``spatial`` constraints, downloads as ``reproduce`` with a
``count`` constraint, onward transfer as a prohibited ``distribute``, deletion at
the end as an ``obligation``. What ODRL has no term for (re-identification,
linking to identify people, linking pseudonyms across leases, the data grade)
uses the datalease profile namespace ``dl:``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.errors import OdrlError
from contracts.licence import Grade, Licence, Prohibition, Purpose, Use
from contracts.utc import format_utc, parse_utc

ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
PROFILE = "https://datalease.example/odrl/profile"
DL_NAMESPACE = "https://datalease.example/odrl/vocab#"
CONTEXT = [ODRL_CONTEXT, {"dl": DL_NAMESPACE, "xsd": "http://www.w3.org/2001/XMLSchema#"}]

DOWNLOAD_ACTION = "reproduce"
CROSS_LEASE_LINKING = "dl:linkPseudonymsAcrossLeases"
PROHIBITED_ACTIONS = {
    Prohibition.REIDENTIFICATION: "dl:reidentify",
    Prohibition.ONWARD_TRANSFER: "distribute",
    Prohibition.LINKING_TO_IDENTIFY: "dl:linkToIdentify",
}
_PROHIBITION_OF = {action: prohibition for prohibition, action in PROHIBITED_ACTIONS.items()}


def to_odrl(licence: Licence) -> dict[str, Any]:
    """The licence as an ODRL 2.2 Agreement (a JSON-ready dict, no floats)."""
    common = [
        _constraint("dateTime", "gteq", _datetime(licence.start)),
        _constraint("dateTime", "lt", _datetime(licence.end)),
        _constraint("purpose", "eq", licence.purpose.value),
        _constraint("spatial", "eq", licence.territory),
    ]
    permissions = [
        {"action": use.value, "constraint": common} for use in sorted(licence.permitted_uses)
    ]
    downloads = _constraint("count", "lteq", licence.max_downloads)
    permissions.append({"action": DOWNLOAD_ACTION, "constraint": [*common, downloads]})
    prohibited = [PROHIBITED_ACTIONS[p] for p in sorted(licence.prohibitions)]
    if licence.cross_lease_linking:
        permissions.append({"action": CROSS_LEASE_LINKING, "constraint": common})
    else:
        prohibited.append(CROSS_LEASE_LINKING)
    policy: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "Agreement",
        "uid": licence.uid,
        "profile": PROFILE,
        "assigner": licence.assigner,
        "assignee": licence.assignee,
        "target": licence.target,
        "dl:grade": licence.grade.value,
        "dl:purposeDescription": licence.purpose_text,
        "permission": permissions,
        "prohibition": [{"action": action} for action in prohibited],
    }
    if licence.delete_at_end:
        deadline = _constraint("dateTime", "lteq", _datetime(licence.end))
        policy["obligation"] = [
            {
                "action": "delete",
                "assignee": licence.assignee,
                "target": licence.target,
                "constraint": [deadline],
            }
        ]
    return policy


def from_odrl(policy: Mapping[str, Any]) -> Licence:
    """Read back an Agreement written by :func:`to_odrl`; raise OdrlError if it is not one."""
    if not isinstance(policy, Mapping):
        raise OdrlError(f"an ODRL policy is a JSON object; got {type(policy).__name__}")
    if policy.get("@type") not in ("Agreement", "odrl:Agreement"):
        raise OdrlError(f"expected an ODRL Agreement; @type is {policy.get('@type')!r}")
    permissions = _rules(policy, "permission")
    if not permissions:
        raise OdrlError("the Agreement has no permission")
    common = _common_constraints(permissions)
    actions = {rule.get("action") for rule in permissions}
    download = next((r for r in permissions if r.get("action") == DOWNLOAD_ACTION), None)
    if download is None:
        raise OdrlError(f"the Agreement has no '{DOWNLOAD_ACTION}' permission with a count")
    prohibited = {rule.get("action") for rule in _rules(policy, "prohibition")}
    unknown = prohibited - set(_PROHIBITION_OF) - {CROSS_LEASE_LINKING}
    if unknown:
        raise OdrlError(f"unknown prohibited actions: {sorted(map(str, unknown))}")
    uses = actions - {DOWNLOAD_ACTION, CROSS_LEASE_LINKING}
    try:
        return Licence(
            uid=_text(policy, "uid"),
            assigner=_text(policy, "assigner"),
            assignee=_text(policy, "assignee"),
            target=_text(policy, "target"),
            grade=Grade(policy.get("dl:grade")),
            purpose=Purpose(common[("purpose", "eq")]),
            purpose_text=str(policy.get("dl:purposeDescription", "")),
            start=parse_utc(_value(common[("dateTime", "gteq")]), "licence start"),
            end=parse_utc(_value(common[("dateTime", "lt")]), "licence end"),
            permitted_uses=frozenset(Use(action) for action in uses),
            prohibitions=frozenset(_PROHIBITION_OF[a] for a in prohibited if a in _PROHIBITION_OF),
            territory=str(common[("spatial", "eq")]),
            max_downloads=_constraints(download)[("count", "lteq")],
            cross_lease_linking=CROSS_LEASE_LINKING in actions,
            delete_at_end=any(r.get("action") == "delete" for r in _rules(policy, "obligation")),
        )
    except KeyError as exc:
        raise OdrlError(f"the Agreement lacks the constraint {exc.args[0]}") from None
    except ValueError as exc:
        raise OdrlError(f"the Agreement has a value datalease does not know: {exc}") from None


def _constraint(left: str, operator: str, right: Any) -> dict[str, Any]:
    return {"leftOperand": left, "operator": operator, "rightOperand": right}


def _datetime(value: Any) -> dict[str, str]:
    return {"@value": format_utc(value), "@type": "xsd:dateTime"}


def _value(right: Any) -> Any:
    return right.get("@value") if isinstance(right, Mapping) else right


def _rules(policy: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    rules = policy.get(key, [])
    if not isinstance(rules, list) or not all(isinstance(r, Mapping) for r in rules):
        raise OdrlError(f"'{key}' must be a list of rule objects")
    return rules


def _constraints(rule: Mapping[str, Any]) -> dict[tuple[str, str], Any]:
    found: dict[tuple[str, str], Any] = {}
    for item in rule.get("constraint", []):
        if not isinstance(item, Mapping):
            raise OdrlError(f"a constraint must be an object; got {item!r}")
        found[(item.get("leftOperand"), item.get("operator"))] = item.get("rightOperand")
    return found


def _common_constraints(permissions: list[Mapping[str, Any]]) -> dict[tuple[str, str], Any]:
    """The constraints every permission shares; they must agree on period, purpose, place."""
    shared = [
        {k: v for k, v in _constraints(rule).items() if k[0] != "count"} for rule in permissions
    ]
    if any(item != shared[0] for item in shared[1:]):
        raise OdrlError("permissions disagree on period, purpose or territory")
    return shared[0]


def _text(policy: Mapping[str, Any], key: str) -> str:
    value = policy.get(key)
    if isinstance(value, Mapping):
        value = value.get("@id") or value.get("uid")
    if not isinstance(value, str) or not value:
        raise OdrlError(f"the Agreement needs '{key}' as an IRI string; got {value!r}")
    return value

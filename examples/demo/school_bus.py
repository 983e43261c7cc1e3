"""The smart-campus case: the education bureau leases school-bus boardings to the operating
company only as a desensitized release, while a guardian follows their own child's
boardings, sees who leased them for what, and may withdraw consent for the child."""

from __future__ import annotations

import io

import pandas as pd

from examples.demo.show import console, say, show_frame
from examples.generate_city_data import generate
from exchange.client import Client

# Pupils' trips, minors' data: the operating company plans routes per district, route and
# direction by day or coarser; it never sees a name, a home stop or the time a child
# boarded, and no column is released raw.
BUS_POLICY = {
    "k": 10,
    "privacy_unit": {"column": "student_id"},
    "columns": {
        "boarding_id": {"class": "drop"},
        "student_id": {"class": "identifier", "rule": "token"},
        "student_name": {"class": "drop"},
        "grade": {"class": "drop"},
        "school": {"class": "quasi_identifier", "rule": "generalize", "prefix": 3},
        "home_stop": {"class": "drop"},
        "route": {"class": "quasi_identifier", "rule": "generalize", "prefix": 5},
        "bus_id": {"class": "drop"},
        "stop": {"class": "drop"},
        "direction": {"class": "quasi_identifier", "rule": "generalize", "prefix": 2},
        "boarding_time": {"class": "quasi_identifier", "rule": "generalize", "to": "day"},
    },
}
BOARDINGS = 3000  # about ninety pupils, whatever the demo's size: k counts ten of them
GUARDIAN_ID = "440304198203150018"  # the parent's own resident ID number (synthetic)


def school_bus(url: str, operator: Client, rows: int) -> None:
    say("school bus: the bureau leases boardings, a guardian follows their own child")
    keys = {}
    for who, role, org in [
        ("education", "provider", "深圳市教育局"),
        ("bus", "buyer", "鹏城校车运营有限公司"),
    ]:
        keys[who] = operator.create_account(who, role, org).api_key
    with Client(url, keys["education"]) as education, Client(url, keys["bus"]) as bus:
        boardings = generate("student_boardings", max(rows, BOARDINGS), seed=2026)
        dataset, offer = _bureau_lists(education, boardings)
        lease = bus.request_lease(offer, "public-service-operation", days=90)
        education.approve_lease(lease.id, "contract with the district for school transport")
        bus.pay(lease.id)
        extract = _download(bus, lease.id)
        show_frame(
            extract,
            f"operating company's extract: {len(extract)} rows, pupils as per-lease tokens, "
            "days at most, no names, stops or exact times",
        )
        child = str(boardings["student_id"].value_counts().index[0])
        guardian, ward = _guardian_registered(operator, url, child)
        with Client(url, guardian) as parent:
            _parent_sees(parent, dataset, ward, boardings, child)
            withdrawn = parent.withdraw_consent([dataset], ward=ward, reason="孩子转学")
            console.print(
                f"guardian withdrew consent for the child: consent version "
                f"{withdrawn[0].consent_version} of {dataset}"
            )
        notice = bus.get_lease(lease.id).notices
        console.print(
            "operating company's lease now says: "
            + (notice[0].text if notice else "[red]no notice (unexpected)")
        )
        if child in set(extract.get("student_id", [])):
            raise SystemExit("a pupil's own number reached the operating company")


def _bureau_lists(education: Client, boardings: pd.DataFrame) -> tuple[str, str]:
    dataset = education.upload_dataset(
        boardings.to_csv(index=False).encode(),
        filename="student_boardings.csv",
        name="校车乘车记录",
        domain="education",
        grade="important",
        description="Pupils' school-bus boardings: minors' data, sensitive personal information",
    )
    declared = education.declare_minors(
        dataset.id, "guardians' written consent collected by each school, 2026"
    )
    education.register_right(
        dataset.id, "holding", "provider", organisation="深圳市教育局",
        evidence="数据资源登记证书 SZ-DR-2026-00041",
    )  # fmt: skip
    education.set_policy(dataset.id, BUS_POLICY)
    education.set_subject_column(dataset.id, "student_id")
    console.print(
        f"minors' data on the guardians' consent: released at k ≥ {declared.min_k} persons, "
        "nothing raw; the bureau registered its holding right"
    )
    offer = education.publish_offer(
        dataset.id,
        title="校车乘车统计（脱敏）",
        terms={"allowed_purposes": ["public-service-operation"], "max_period_days": 120},
        pricing={"base_minor_per_1000_rows": 40_000, "minimum_minor": 20_000},
        shares_bp={"provider": 8000, "platform": 1500, "subject_pool": 500},
        epsilon_cap=1.0,
        k=5,
    )
    console.print(
        f"education bureau: dataset {dataset.id} ({dataset.rows} boardings, important grade), "
        "subject column student_id, offer for public-service operation only"
    )
    return dataset.id, offer.id


def _download(bus: Client, lease_id: str) -> pd.DataFrame:
    received = io.BytesIO()
    bus.download_extract(lease_id, received, format="csv")
    return pd.read_csv(io.BytesIO(received.getvalue()), dtype=str, keep_default_na=False)


def _guardian_registered(operator: Client, url: str, child: str) -> tuple[str, str]:
    guardian = operator.register_subject(
        "王先生", GUARDIAN_ID, evidence="real-name check at the district service hall"
    )
    ward = operator.link_ward(
        guardian.id, child, label="儿子", evidence="household register (户口簿) seen"
    )
    console.print(
        f"operator verified a parent ({guardian.id}) and linked their child as ward {ward.id}; "
        "only keyed pseudonyms of their numbers are stored"
    )
    return guardian.api_key, ward.id


def _parent_sees(
    parent: Client, dataset: str, ward: str, boardings: pd.DataFrame, child: str
) -> None:
    mine = parent.my_records(dataset, ward=ward)
    rows = pd.DataFrame(mine.rows)[["student_name", "stop", "direction", "bus_id", "boarding_time"]]
    show_frame(rows, f"the guardian's view: their child's own {mine.total} boardings", rows=6)
    if mine.total != int((boardings["student_id"] == child).sum()):
        raise SystemExit("the guardian did not get every boarding of their child")
    for person in parent.my_data().persons:
        for found in person["datasets"]:
            for release in found["releases"]:
                for lease in release["leases"]:
                    console.print(
                        f"{person['label']}'s data in {found['name']}: leased by "
                        f"{lease['organisation']} for {lease['purpose']} until "
                        f"{lease['ends_at'][:10]} ({lease['status']})"
                    )

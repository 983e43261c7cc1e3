"""The client's governance calls: listing reviews, public objections and the offers and
objections compliance works through. Lease approvals, one chain step per call, are
:meth:`Client.approve_lease` and :meth:`Client.reject_lease`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from exchange.client import models as m

T = TypeVar("T", bound=BaseModel)


class GovernanceCalls:
    """Mixed into :class:`~exchange.client.Client`, which supplies the plumbing."""

    if TYPE_CHECKING:

        def _one(self, model: type[T], method: str, path: str, **kwargs: Any) -> T: ...

        def _many(self, model: type[T], method: str, path: str, **kwargs: Any) -> list[T]: ...

    def list_offers(self, review_status: str | None = None) -> list[m.Offer]:
        """Offers in every review state (a provider's own; all for compliance and audit),
        e.g. ``review_status="pending_review"`` for what awaits a compliance review."""
        return self._many(m.Offer, "GET", "/v1/offers", params={"review_status": review_status})

    def review_offer(self, offer_id: str, *, approve: bool, reason: str) -> m.Offer:
        """Compliance: approve a new listing into public disclosure, or reject it."""
        body = {"approve": approve, "reason": reason}
        return self._one(m.Offer, "POST", f"/v1/offers/{offer_id}/review", json=body)

    def file_objection(
        self, dataset_id: str, text: str, *, name: str = "", offer_id: str | None = None
    ) -> m.ObjectionFiled:
        """Anyone (no key needed): object to a listing of the dataset in its disclosure."""
        body: dict[str, Any] = {"text": text, "name": name}
        if offer_id is not None:
            body["offer_id"] = offer_id
        return self._one(
            m.ObjectionFiled, "POST", f"/v1/transparency/{dataset_id}/objections", json=body
        )

    def list_objections(
        self, *, status: str | None = None, dataset_id: str | None = None
    ) -> list[m.Objection]:
        """Compliance, auditors and operators: objections with their words and signer."""
        params = {"status": status, "dataset_id": dataset_id}
        return self._many(m.Objection, "GET", "/v1/objections", params=params)

    def decide_objection(self, objection_id: str, *, uphold: bool, reason: str) -> m.Objection:
        """Compliance: uphold an objection (the listing stops for good) or reject it."""
        body = {"uphold": uphold, "reason": reason}
        return self._one(m.Objection, "POST", f"/v1/objections/{objection_id}/decision", json=body)

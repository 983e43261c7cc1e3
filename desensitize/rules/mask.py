"""`mask`: hide the middle of a value with a mask character, keeping a prefix and suffix.

Presets cover the formats of Chinese personal data. A value too short to hide
anything between the kept ends is masked whole: a mask never reveals a full value.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from desensitize.rules.base import (
    STAR,
    Context,
    Ladder,
    Params,
    Rule,
    as_text,
    fixed_width_text,
    map_distinct,
    stars,
)
from desensitize.rules.email_bytes import email_masked_bytes

__all__ = ["COMPOUND_SURNAMES", "PRESETS", "Mask", "MaskLadder"]

# (keep_first, keep_last) of the presets that are plain prefix/suffix masks. The display
# formats (6+4, 3+4) are what tickets and labels print, so joined with such a label they
# single people out: the gate counts them and cuts them down. The release formats keep
# only what usually survives it: the ID's region code, the mobile's carrier prefix.
_ENDS = {
    "cn_resident_id": (6, 4),
    "cn_mobile": (3, 4),
    "bank_card": (0, 4),
    "cn_name": (1, 0),
    "cn_resident_id_region": (6, 0),
    "cn_mobile_carrier": (3, 0),
}
PRESETS = (*_ENDS, "email", "email_domain", "address")
COMPOUND_SURNAMES = (
    "欧阳|司马|诸葛|上官|东方|皇甫|尉迟|公孙|慕容|长孙|宇文|司徒|夏侯|轩辕|令狐|端木|"
    "独孤|南宫|西门|百里|呼延|万俟|闻人|澹台|公冶|宗政|濮阳|太史|申屠|钟离"
)
# Province (or municipality), then city, then district/county; the rest is hidden.
_ADMIN_PREFIX = (
    r"^((?:[^省]{2,7}省|[^区]{2,10}?自治区|北京市|天津市|上海市|重庆市)?"
    r"(?:[^市州盟]{1,10}?(?:市|自治州|地区|盟))?(?:[^区县旗]{1,10}?(?:区|县|旗))?).*$"
)
_HIDDEN = "****"


class Mask(Rule):
    """Keep the first `keep_first` and last `keep_last` characters, mask the rest."""

    name = "mask"
    text_input = True
    accepts = frozenset({"string", "numeric"})

    def configure(self, params: Params) -> None:
        self.preset = params.choice("preset", PRESETS)
        self.char = params.text("char", "*")
        if len(self.char) != 1:
            raise params.fail(f"parameter 'char' must be one character, got {self.char!r}")
        if self.preset is not None and (params.has("keep_first") or params.has("keep_last")):
            raise params.fail("give either 'preset' or 'keep_first'/'keep_last', not both")
        first, last = _ENDS.get(self.preset or "", (0, 0))
        self.keep_first = params.integer("keep_first", first)
        self.keep_last = params.integer("keep_last", last)

    def ladder(self) -> Ladder:
        return MaskLadder(self)

    def transform(self, values: pa.Array, ctx: Context) -> pa.Array:
        text = as_text(values)
        if self.preset == "email":
            return self._email(text)
        if self.preset == "email_domain":  # '****@domain'
            fast = _email_masked(text, keep_first=False) if pa.types.is_string(text.type) else None
            if fast is not None:
                return fast
            masked = self._email(text)
            return pc.replace_substring_regex(masked, pattern=r"^[^@*]", replacement=self.char)
        if self.preset == "address":
            return self._address(text)
        if self.preset == "cn_name":
            compound = pc.match_substring_regex(text, f"^(?:{COMPOUND_SURNAMES})")
            first = pc.if_else(compound, 2, 1)
            return self._ends(text, first, pa.scalar(0))
        return self._ends(text, pa.scalar(self.keep_first), pa.scalar(self.keep_last))

    def _ends(self, text: pa.Array, first: pa.Array | pa.Scalar, last: pa.Scalar) -> pa.Array:
        if isinstance(first, pa.Scalar):
            fast = _fixed_width(text, first.as_py(), last.as_py(), self.char)
            if fast is not None:
                return fast
        length = pc.utf8_length(text)
        hidden = pc.subtract(length, pc.add(first, last))
        head = _slice(text, first)
        tail = pc.utf8_slice_codeunits(text, start=-last.as_py()) if last.as_py() else ""
        masked = pc.binary_join_element_wise(
            head, pc.binary_repeat(self.char, pc.max_element_wise(hidden, 0)), tail, ""
        )
        return pc.if_else(pc.greater(hidden, 0), masked, pc.binary_repeat(self.char, length))

    def _email(self, text: pa.Array) -> pa.Array:
        fast = _email_masked(text) if pa.types.is_string(text.type) else None
        if fast is not None:
            return fast
        parts = pc.extract_regex(text, r"^(?P<first>[^@])[^@]*@(?P<domain>[^@]+)$")
        first, domain = pc.struct_field(parts, [0]), pc.struct_field(parts, [1])
        masked = pc.coalesce(pc.binary_join_element_wise(first, "***@", domain, ""), _HIDDEN)
        return pc.if_else(pc.is_valid(text), masked, pa.scalar(None, pa.string()))

    def _address(self, text: pa.Array) -> pa.Array:
        return pc.replace_substring_regex(text, pattern=_ADMIN_PREFIX, replacement=r"\1" + _HIDDEN)


def _email_masked(text: pa.Array, *, keep_first: bool = True) -> pa.Array | None:
    """`first***@domain` (or `****@domain` without `keep_first`) for values with one '@',
    a character before it and one after it, else '****' (nulls stay null): the email
    regex's result by splitting at '@', several times faster than the regex (None if the
    output could outgrow 32-bit offsets, for the regex to do)."""
    fast = email_masked_bytes(text, keep_first=keep_first)
    if fast is not None:
        return fast
    data = text.buffers()[2]
    size = data.size if data is not None else 0
    if size + 4 * len(text) >= np.iinfo(np.int32).max:
        return None
    one = pc.equal(pc.count_substring(text, "@"), 1)
    # Values without exactly one '@' are split as '@' (two empty parts), so each row
    # has two parts, and fail the length test below.
    parts = pc.split_pattern(pc.if_else(one, text, "@"), "@")
    local, domain = pc.list_element(parts, 0), pc.list_element(parts, 1)
    ok = pc.and_(pc.greater(pc.binary_length(local), 0), pc.greater(pc.binary_length(domain), 0))
    if keep_first:
        head: pa.Array | str = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(local, 0, 1), "***@", ""
        )
    else:
        head = _HIDDEN + "@"
    masked = pc.binary_join_element_wise(head, domain, "")
    return pc.if_else(ok, masked, pa.scalar(_HIDDEN)).cast(pa.string())


def _fixed_width(text: pa.Array, first: int, last: int, char: str) -> pa.Array | None:
    """Equally long ASCII values (ID and phone numbers) masked in one numpy step, or None
    when the column is not like that and the general path must run."""
    hidden = None if text.null_count or not len(text) or not char.isascii() else 0
    if hidden is None or not pa.types.is_string(text.type):
        return None
    _, offsets_buffer, data_buffer = text.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int32, len(text) + 1, text.offset * 4)
    width = int(offsets[1] - offsets[0])
    if width - first - last <= 0 or np.any(np.diff(offsets) != width):
        return None
    data = np.frombuffer(data_buffer, np.uint8)[offsets[0] : offsets[-1]]
    if np.any(data >= 0x80):
        return None
    chars = data.reshape(len(text), width).copy()
    chars[:, first : width - last] = ord(char)
    return fixed_width_text(chars)


def _slice(text: pa.Array, first: pa.Array | pa.Scalar) -> pa.Array:
    """The first `first` characters, where `first` may differ per row (1 or 2 for names)."""
    if isinstance(first, pa.Scalar):
        return pc.utf8_slice_codeunits(text, 0, first.as_py())
    two = pc.utf8_slice_codeunits(text, 0, 2)
    return pc.if_else(pc.equal(first, 2), two, pc.utf8_slice_codeunits(text, 0, 1))


class MaskLadder(Ladder):
    """A mask keeps raw characters, so the release gate may have to keep fewer: each level
    hides more of the masked value (the ID's suffix, then its district, city and province
    digits), '*' at the top. Levels render from the level-0 mask, which is the base."""

    def __init__(self, rule: Mask) -> None:
        self.rule = rule
        self.steps = _steps(rule)
        self.labels = (*(_label(rule, step) for step in self.steps), STAR)

    def base(self, values: pa.Array, ctx: Context) -> pa.Array:
        return self.rule.transform(values, ctx)

    def at(self, base: pa.Array, level: int) -> pa.Array:
        if level == 0:
            return base
        if level >= self.top:
            return stars(len(base))
        return map_distinct(base, lambda distinct: self._render(distinct, self.steps[level]))

    def _render(self, distinct: pa.Array, step: tuple[int, int] | str) -> pa.Array:
        char = self.rule.char
        if step == "email_domain":  # 'a***@domain' -> '****@domain'
            return pc.replace_substring_regex(distinct, pattern=r"^[^@]", replacement=char)
        if isinstance(step, str):  # an address cut to its province and city, or province
            pattern = _ADDRESS_LEVELS[step]
            return pc.replace_substring_regex(
                distinct, pattern=pattern, replacement=r"\1" + _HIDDEN
            )
        first, last = step
        return self.rule._ends(distinct, pa.scalar(first), pa.scalar(last))


# Address levels below the mask's province + city + district: the capture group is kept.
_PROVINCE = r"(?:[^省]{2,7}省|[^区]{2,10}?自治区|北京市|天津市|上海市|重庆市)"
_ADDRESS_LEVELS = {
    "address_city": rf"^({_PROVINCE}?(?:[^市州盟*]{{1,10}}?(?:市|自治州|地区|盟))?).*$",
    "address_province": rf"^({_PROVINCE}?).*$",
}
# Prefix lengths a resident ID keeps level by level: county, city, province codes.
_ID_PREFIXES = (6, 4, 2)


def _steps(rule: Mask) -> tuple[tuple[int, int] | str, ...]:
    if rule.preset == "email":
        return ((0, 0), "email_domain")
    if rule.preset == "email_domain":
        return ((0, 0),)
    if rule.preset == "address":
        return ((0, 0), "address_city", "address_province")
    if rule.preset == "cn_name":
        return ((1, 0),)
    first, last = rule.keep_first, rule.keep_last
    steps: list[tuple[int, int]] = [(first, last)]
    if last:
        steps.append((first, 0))
    prefixes = _ID_PREFIXES if (rule.preset or "").startswith("cn_resident_id") else ()
    shorter = [p for p in prefixes if p < first] or _halvings(first)
    steps.extend((p, 0) for p in shorter)
    return tuple(steps)


def _halvings(first: int) -> list[int]:
    out = []
    while first > 1:
        first //= 2
        out.append(first)
    return out


def _label(rule: Mask, step: tuple[int, int] | str) -> str:
    if isinstance(step, str):
        return step.replace("_", " ")
    if rule.preset in ("email", "email_domain", "address", "cn_name") and step in (
        (0, 0),
        (1, 0),
    ):
        return f"mask {rule.preset}"
    return f"mask {step[0]}+{step[1]}"

"""Desensitization rules: one small vectorized operator per module, in an explicit registry."""

from __future__ import annotations

from desensitize.rules.base import Context, Ladder, Rule
from desensitize.rules.fake import Fake
from desensitize.rules.generalize import Generalize
from desensitize.rules.keep import Keep
from desensitize.rules.mask import Mask
from desensitize.rules.noise import Noise
from desensitize.rules.suppress import Suppress
from desensitize.rules.token import Token
from desensitize.rules.top_bottom_code import TopBottomCode

__all__ = ["RULES", "Context", "Ladder", "Rule"]

RULES: dict[str, type[Rule]] = {
    rule.name: rule
    for rule in (Keep, Mask, Token, Fake, Generalize, Suppress, TopBottomCode, Noise)
}

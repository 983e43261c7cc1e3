"""Apply a policy to a table: the two passes shared by `apply` and `apply_stream`.

Pass one (`survey`) counts the combinations of level-0 quasi-identifier values
and fits what needs the whole column (quantile bounds); `prepare` then chooses
k-anonymity levels. Pass two (`transform`) decides which rows of a batch stay,
runs every rule over the batch's columns on worker threads, and counts the
output's own classes, which `finish` checks. `apply` feeds pieces of an in-memory
table, `apply_stream` batches of a file; the noise rule's blocks line up with
both, so the two give identical output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from desensitize.combos import index_type, sizes_by_sort, whole
from desensitize.kanon import (
    COUNT,
    ComboCounts,
    KPlan,
    QuasiIdentifier,
    choose_levels,
    class_ids,
    codes_of,
    verify,
)
from desensitize.keys import Keyring, as_keyring
from desensitize.policy import Policy, as_policy, schema_of
from desensitize.risk import risk_from_class_sizes, utility_report
from desensitize.rules.base import Context, Rule
from desensitize.rules.noise import ROW_BLOCK

__all__ = ["Counted", "Desensitized", "Desensitizer", "Report", "Tally", "apply"]

L_VALUE = "__l_value__"  # the l-diversity attribute, carried beside the quasi-identifiers
UNIT = "__unit__"  # the privacy unit (the person), carried the same way
UTILITY_ROWS = 10_000
BACKGROUND_NICE = 10  # nice 10: about a tenth of a nice-0 thread's share of a busy core
CHUNK_ROWS = 10 * ROW_BLOCK  # rows `apply` transforms at a time


@dataclass(frozen=True)
class Report:
    """What was done to a table; JSON-safe through `to_dict`, free of key material."""

    policy_hash: str
    key_id: str
    columns: dict[str, dict[str, Any]]
    dropped_columns: list[str]
    rows_in: int
    rows_out: int
    rows_dropped_by_rules: int
    rows_suppressed: int
    k_anonymity: dict[str, Any] | None
    gate: dict[str, Any]
    risk_before: dict[str, Any]
    risk_after: dict[str, Any]
    utility: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Desensitized:
    """The desensitized table (Arrow, or pandas through `frame`) and how it was made."""

    table: pa.Table
    report: Report
    index: pd.Index | None = None  # the input's index of the kept rows, for a DataFrame

    @cached_property
    def frame(self) -> pd.DataFrame:
        frame = self.table.to_pandas()
        if self.index is not None:
            frame.index = self.index
        return frame


def _array(table: pa.Table, name: str) -> pa.Array:
    return whole(table.column(name))


def _halves(rows: int) -> list[tuple[int, int]]:
    """Two row ranges splitting `rows` at a whole piece (keyed draws per row block stay
    where they are), or one range for a table of less than two pieces."""
    half = rows // 2 // CHUNK_ROWS * CHUNK_ROWS
    return [(0, half), (half, rows - half)] if half else [(0, rows)]


def _kept(data: pa.Table | pa.Array, keep: np.ndarray) -> pa.Table | pa.Array:
    """The rows where `keep` is true (no copy when all are kept, the usual case)."""
    return data if keep.all() else data.filter(keep)


def _one_class(rows: int) -> np.ndarray:
    """Without quasi-identifiers every row is in one class (none in an empty table)."""
    return np.array([rows] if rows else [], dtype=np.int64)


def class_sizes(counts: ComboCounts, qis: list[str], rows: int) -> np.ndarray:
    """Rows per equivalence class over `qis`, from combination counts."""
    if not qis:
        return _one_class(rows)
    merged = counts.table(encoded=True)
    if merged is None:
        return np.zeros(0, dtype=np.int64)
    return _sizes_over(merged, qis)


def _sizes_over(counts: pa.Table, qis: list[str]) -> np.ndarray:
    """Rows per class over `qis` of a counts table (column `COUNT` holds the rows)."""
    weights = counts[COUNT].to_numpy()
    if not qis:
        return _one_class(int(weights.sum()))
    if set(counts.column_names) == {*qis, COUNT}:
        return weights.astype(np.int64)  # each combination is a class of its own
    coded = [codes_of(whole(counts[name])) for name in qis]
    cards = [len(v) for _, v in coded]
    sizes = sizes_by_sort([c for c, _ in coded], cards, weights)
    if sizes is not None:
        return sizes
    ids, classes = class_ids([c for c, _ in coded], cards)
    return np.bincount(ids, weights=weights, minlength=classes).astype(np.int64)


def risk_from_sizes(sizes: np.ndarray, qis: list[str], k: int) -> dict[str, Any]:
    """risk.py's report from class sizes alone: a streamed table's rows are long gone when
    the report is made, and re-creating one row per record would cost memory."""
    return risk_from_class_sizes(sizes, qis, k).to_dict()


def measure_utility(
    policy: Policy, before: pa.Table, after: pa.Table, kept: np.ndarray
) -> dict[str, Any]:
    """risk.py's utility report on the first `UTILITY_ROWS` input rows, aligned by position.

    Identifier columns are left out: their figures are trivially "all changed". The
    streaming engine measures the same rows, so both report the same figures.
    """
    columns = [
        c.name for c in policy.columns if c.rule is not None and c.classification != "identifier"
    ]
    sample = min(before.num_rows, UTILITY_ROWS)
    positions = np.flatnonzero(kept)
    inside = int(np.searchsorted(positions, sample))
    old = before.slice(0, sample).select(columns).to_pandas()
    new = after.slice(0, inside).select(columns).to_pandas()
    new.index = positions[:inside]
    return utility_report(old, new, columns).to_dict()


@dataclass(frozen=True)
class _Started:
    """A batch whose kept rows are known and whose other columns the workers transform."""

    table: pa.Table
    ctx: Context
    keep: np.ndarray
    dropped: int  # rows removed by rules
    suppressed: int  # rows removed for k-anonymity or l-diversity
    qi_outputs: dict[str, pa.Array]
    work: dict[str, Future]


def _lower_priority() -> None:
    """Lower the calling thread's scheduling priority (Linux threads have their own); where
    that cannot be done, the thread runs as it is."""
    with contextlib.suppress(AttributeError, OSError):
        thread = threading.get_native_id()
        nice = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, nice + BACKGROUND_NICE))


def _kept_result(future: Future, keep: np.ndarray) -> pa.Array:
    """The kept rows of a column started before they were known."""
    return _kept(future.result(), keep)


class Counted(ComboCounts):
    """Combination counts made by other engines and merged (column `COUNT` holds the rows),
    read where an engine reads its own: a run whose batches several engines work, each on
    its own machine (desensitize.distributed), is planned and reported by one of them."""

    def __init__(self, table: pa.Table | None) -> None:
        super().__init__([n for n in table.column_names if n != COUNT] if table else [])
        self._table = table

    def add(self, table: pa.Table, pool: Any = None) -> dict[str, np.ndarray]:
        raise TypeError("merged counts take no more rows")

    def table(self, *, encoded: bool = False) -> pa.Table | None:
        return self._table

    def sizes(self) -> np.ndarray:
        if self._table is None:
            return np.zeros(0, dtype=np.int64)
        return self._table[COUNT].to_numpy()


@dataclass(frozen=True)
class Tally:
    """What pass two of one engine counted, to be merged with other engines' tallies."""

    output: pa.Table | None  # the output's own classes (as `finish` checks them)
    raw: pa.Table | None  # the input's own quasi-identifier combinations
    rows_in: int
    rows_out: int
    rows_dropped: int
    rows_suppressed: int


class Desensitizer:
    """One policy and one keyring applied over the batches of one table (see module doc)."""

    def __init__(self, policy: Policy, keys: Keyring, *, bounded: bool = True) -> None:
        """`bounded` (a stream's engine) hands the pages Arrow frees back to the system
        after each column, so memory stays flat however long the input. A table held in
        memory keeps them for the next piece: faulting in fresh pages costs more than
        much of the work done on them."""
        self.policy, self.keys, self.bounded = policy, keys, bounded
        # Rules spend their time in Arrow, numpy and AES code that releases the GIL, so
        # columns are transformed side by side.
        self._pool = ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1))
        # The gate counts every released column an attacker can join on, not only those
        # the policy calls quasi-identifiers (a mask keeps raw characters).
        self.qis = [
            QuasiIdentifier(name, policy.column(name).rule.ladder())
            for name in policy.released_quasi_identifiers
        ]
        self.qi_names = [qi.name for qi in self.qis]
        self.unit = policy.privacy_unit.column if policy.privacy_unit else None
        self.linked = self.unit is not None and policy.linked
        modelled = policy.k is not None or policy.l_diversity is not None
        self.enforce = modelled and (bool(self.qis) or self.unit is not None)
        self.k = policy.k or 1
        diversity = policy.l_diversity if self.enforce else None
        self.l_column = diversity.column if diversity else None
        self.l = diversity.l if diversity else 1
        tracked = [*self.qi_names, L_VALUE] if self.l_column else list(self.qi_names)
        if self.enforce and self.unit:
            tracked.append(UNIT)
        self._combos = ComboCounts(tracked)
        self._out = ComboCounts(tracked)
        self._raw = ComboCounts(self.qi_names)
        self._before: np.ndarray | None = None  # class sizes of the rules' own output
        self._bases: dict[str, pa.Array] = {}  # level-0 values of the whole table, if kept
        # With the bases: each kept row's code per quasi-identifier (as the search's counts
        # number the values), and each input row's place among the kept rows.
        self._row_codes: dict[str, np.ndarray] = {}
        self._kept_at: np.ndarray | None = None
        self._fits: dict[str, list[Any]] = {
            c.name: [] for c in policy.columns if c.rule and c.rule.needs_fit()
        }
        self._states: dict[str, Any] = {}
        self._counting: Future | None = None
        self._checker = ThreadPoolExecutor(max_workers=1)  # the output's own class counts
        self._survey_pool = ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1))
        # Columns started before the level search (see `prefetch`) fill the cores the
        # search leaves idle; at a lower priority, they do not slow the search itself.
        self._background = ThreadPoolExecutor(
            max_workers=min(2, os.cpu_count() or 1), initializer=_lower_priority
        )
        self._checking: Future | None = None
        self._early: dict[tuple[int, str], Future] = {}
        self.plan: KPlan | None = None
        self.rows_in = self.rows_out = self.rows_dropped = self.rows_suppressed = 0

    def __enter__(self) -> Desensitizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._checker.shutdown(wait=True, cancel_futures=True)
        self._survey_pool.shutdown(wait=True, cancel_futures=True)
        self._background.shutdown(wait=True, cancel_futures=True)

    @property
    def survey_columns(self) -> list[str]:
        """The input columns the first pass reads (none if it can be skipped)."""
        if not (self.enforce or self._fits):
            return []
        droppers = [c.name for c in self.policy.columns if c.rule and c.rule.drops_rows]
        extra = [self.l_column] if self.l_column else []
        if self.unit:
            extra.append(self.unit)
        return list(dict.fromkeys([*self.qi_names, *extra, *droppers, *self._fits]))

    def count_raw(self, table: pa.Table) -> None:
        """Count the input's own quasi-identifier combinations (for the risk before), on a
        worker while the caller goes on; `finish` waits for it. Under a privacy model the
        first pass counts what the policy's rules release before the gate, and that is the
        risk before, so raw values are not counted again.

        Callers pass the whole table at once when they hold it, else each batch."""
        if self.qis and not self.enforce:
            if self._counting is not None:  # one batch at a time, and never a backlog
                self._counting.result()
            self._counting = self._pool.submit(self._count_raw, table)

    def _count_raw(self, table: pa.Table) -> None:
        self._raw.add(table.select(self.qi_names))
        self._release()

    def _drop_mask(self, table: pa.Table) -> np.ndarray:
        drop = np.zeros(table.num_rows, dtype=bool)
        for column in self.policy.columns:
            if column.rule is not None and column.rule.drops_rows:
                mask = column.rule.drop_rows(_array(table, column.name))
                drop |= mask.to_numpy(zero_copy_only=False)
        return drop

    def _l_values(self, started: _Started, outputs: Mapping[str, pa.Array]) -> pa.Array:
        """The l-diversity attribute of the kept rows as released, else its raw values."""
        if self.l_column in outputs:
            return outputs[self.l_column]
        return _kept(_array(started.table, self.l_column), started.keep)

    def _l_base(self, table: pa.Table, ctx: Context) -> pa.Array:
        """The l-diversity attribute of every row, as it will be released (first pass)."""
        values = _array(table, self.l_column)
        if self.l_column in self.policy.output_columns:
            return self._rule(self.l_column).transform(values, ctx)
        return values

    def survey(self, table: pa.Table, offset: int, *, keep_bases: bool = False) -> None:
        """Pass one over a batch whose first row is row `offset` of the input.

        With `keep_bases` (the whole table in memory, surveyed at once) the quasi-identifiers'
        level-0 values are kept for pass two, which then need not compute them again."""
        if not (self.enforce or self._fits):
            return
        ctx = Context(self.keys, row_offset=offset)
        keep = ~self._drop_mask(table)
        if self.enforce:
            # The first pass is the critical path: its columns are worked side by side,
            # each in halves of rows (one slow column, a mask over long text, would keep
            # the other worker idle), and coded as soon as its values are made.
            def base_part(qi: QuasiIdentifier, at: int, rows: int) -> pa.Array:
                values = _array(table.slice(at, rows), qi.name)
                return qi.ladder.base(values, Context(self.keys, row_offset=offset + at))

            halves = _halves(table.num_rows)
            started = {
                qi.name: [self._survey_pool.submit(base_part, qi, *half) for half in halves]
                for qi in self.qis
            }

            def base(qi: QuasiIdentifier) -> pa.Array:
                made = [part.result() for part in started[qi.name]]
                return made[0] if len(made) == 1 else pa.concat_arrays(made)

            makers: dict[str, Callable[[], pa.Array]] = {
                qi.name: partial(base, qi) for qi in self.qis
            }
            if self.l_column:
                makers[L_VALUE] = partial(self._l_base, table, ctx)
            if self.unit:
                makers[UNIT] = partial(_array, table, self.unit)

            def coded(name: str) -> tuple[pa.Array, np.ndarray]:
                values = makers[name]()
                return values, self._combos.code(name, _kept(values, keep))

            done = dict(zip(makers, self._survey_pool.map(coded, makers), strict=True))
            if keep_bases and offset == 0:
                self._bases = {name: done[name][0] for name in self.qi_names}
            codes = {name: code for name, (_, code) in done.items()}
            del done
            self._combos.add_codes(codes, self._survey_pool)
            if keep_bases and offset == 0:
                self._row_codes = {
                    n: codes[n].astype(index_type(int(codes[n].max(initial=0)) + 1))
                    for n in self.qi_names
                }
                self._kept_at = np.cumsum(keep, dtype=np.int64) - 1
        for name, parts in self._fits.items():
            parts.append(_kept(_array(table, name), keep))

    def prepare(self) -> None:
        """Between the passes: fit quantile bounds, choose the k-anonymity levels."""
        for name, parts in self._fits.items():
            values = pa.concat_arrays(parts) if parts else pa.array([], pa.float64())
            self._states[name] = self.policy.column(name).rule.fit(values)
        # A one-item list, handed over by `pop`: the search frees the counts (the largest
        # thing the first pass leaves) as soon as it has its own codes.
        counts = [self._combos.table(encoded=True)]
        self._combos = None  # the plan replaces the counts
        if self.enforce and counts[0] is not None:
            self._before = _sizes_over(counts[0], self.qi_names)  # the rules' own output
            self.plan = choose_levels(
                counts.pop(),
                self.qis,
                k=self.k,
                l_column=L_VALUE if self.l_column else None,
                l=self.l,
                max_suppression=self.policy.max_suppression,
                unit_column=UNIT if self.unit else None,
                linked=self.linked,
                l_label=self.l_column,
                search=self.policy.search,
                quality=self.policy.quality,
            )

    def _rule(self, name: str) -> Rule:
        return self.policy.column(name).rule

    def _output(self, name: str, values: pa.Array, ctx: Context) -> pa.Array:
        rule = self._rule(name)
        if self.plan is not None and name in self.plan.levels:
            ladder = rule.ladder()
            if name in self._bases:
                base = self._bases[name].slice(ctx.row_offset, len(values))
            else:
                base = ladder.base(values, ctx)
            return ladder.at(base, self.plan.levels[name])
        return rule.transform(values, dataclasses.replace(ctx, state=self._states.get(name)))

    def _column_output(
        self, name: str, table: pa.Table, ctx: Context, keep: np.ndarray
    ) -> pa.Array:
        """One output column of the kept rows (runs on a worker)."""
        out = _kept(self._output(name, _array(table, name), ctx), keep)
        self._release()
        return out

    def _release(self) -> None:
        """Arrow's allocator keeps each thread's freed pages: a bounded engine hands this
        thread's back to the system."""
        if self.bounded:
            pa.default_memory_pool().release_unused()

    @property
    def _independent(self) -> list[str]:
        """Output columns that depend neither on the chosen levels nor on fitted state."""
        return [
            n
            for n in self.policy.output_columns
            if n not in self.qi_names and not self._rule(n).needs_fit()
        ]

    def prefetch(self, table: pa.Table, offset: int) -> None:
        """Start a batch's independent columns (tokens, fakes, noise) on the workers before
        the level search, so they run while it does; `start` then only drops the rows it
        does not keep. Worth it when the whole table is in memory anyway."""
        ctx = Context(self.keys, row_offset=offset)
        every = np.ones(table.num_rows, dtype=bool)
        for name in sorted(self._independent, key=lambda n: not self._rule(n).keyed):
            future = self._background.submit(self._column_output, name, table, ctx, every)
            self._early[(offset, name)] = future

    def transform(self, table: pa.Table, offset: int) -> tuple[pa.Table, np.ndarray]:
        """Pass two over a batch: the output rows, and which input rows they are."""
        return self.complete(self.start(table, offset))

    def start(self, table: pa.Table, offset: int) -> _Started:
        """Decide which rows stay, then hand the other columns to the workers; `complete`
        collects them. Starting the next batch before completing this one keeps the
        workers busy in between."""
        ctx = Context(self.keys, row_offset=offset)
        drop = self._drop_mask(table)
        keep = ~drop
        qi_outputs = {n: _kept(self._output(n, _array(table, n), ctx), keep) for n in self.qi_names}
        suppressed = 0
        plan = self.plan
        if plan is not None and (plan.suppressed.any() or plan.suppressed_units is not None):
            if plan.suppressed_units is None and self._kept_at is not None:
                # The survey's codes of these rows: a lookup by number, not by value.
                at = self._kept_at[offset : offset + table.num_rows][keep]
                dropped = plan.suppress_codes({n: c[at] for n, c in self._row_codes.items()})
            else:
                units = _kept(_array(table, self.unit), keep) if self.unit else None
                dropped = plan.suppress_mask(qi_outputs, units)
            keep[keep] = ~dropped
            qi_outputs = {name: out.filter(~dropped) for name, out in qi_outputs.items()}
            suppressed = int(dropped.sum())
        # Keyed rules cost the most: start them first so the workers finish together.
        rest = [n for n in self.policy.output_columns if n not in qi_outputs]
        rest.sort(key=lambda n: not self._rule(n).keyed)
        # A column started early drops the rows not kept on a worker too; the workers
        # take tasks in order, so the one it waits for has started by then.
        work = {
            n: self._pool.submit(_kept_result, self._early.pop((offset, n)), keep)
            if (offset, n) in self._early
            else self._pool.submit(self._column_output, n, table, ctx, keep)
            for n in rest
        }
        started = _Started(table, ctx, keep, int(drop.sum()), suppressed, qi_outputs, work)
        if self.l_column is None or self.l_column not in work:
            self._check(started, qi_outputs)  # it needs no worker's column
        return started

    def _check(self, started: _Started, outputs: Mapping[str, pa.Array]) -> None:
        """Count a batch's output classes for the gate's own check, on a thread of its own
        while the caller goes on; in batch order, and at most one batch waits, so a
        stream never builds a backlog."""
        tracked = {name: outputs[name] for name in self.qi_names}
        if self.l_column:
            tracked[L_VALUE] = self._l_values(started, outputs)
        if self.enforce and self.unit:
            tracked[UNIT] = _kept(_array(started.table, self.unit), started.keep)
        if tracked:
            if self._checking is not None:
                self._checking.result()
            self._checking = self._checker.submit(self._out.add, pa.table(tracked))

    def complete(self, started: _Started) -> tuple[pa.Table, np.ndarray]:
        """The output rows of a started batch, and which of its input rows they are."""
        done = {name: future.result() for name, future in started.work.items()}
        outputs = {n: started.qi_outputs.get(n, done.get(n)) for n in self.policy.output_columns}
        if self.l_column is not None and self.l_column in started.work:
            self._check(started, outputs)
        out = pa.table(outputs)
        self.rows_in += started.table.num_rows
        self.rows_dropped += started.dropped
        self.rows_suppressed += started.suppressed
        self.rows_out += out.num_rows
        return out, started.keep

    # A run split over several engines: each surveys, or transforms, its own batches and
    # hands over what it counted; one engine merges that, plans, and reports.

    def surveyed(self, *, encoded: bool = False) -> tuple[pa.Table | None, dict[str, pa.Array]]:
        """Pass one's combination counts (values, not codes; with `encoded`, dictionary
        columns over the values) and the values to fit."""
        fits = {
            name: pa.concat_arrays(parts) if parts else pa.array([], pa.float64())
            for name, parts in self._fits.items()
        }
        return self._combos.table(encoded=encoded), fits

    def use_survey(self, counts: pa.Table | None, fits: Mapping[str, pa.Array]) -> None:
        """Pass one done by other engines: their merged counts and values, for `prepare`."""
        self._combos = Counted(counts)
        self._fits = {name: [fits[name]] for name in self._fits}

    def use_plan(self, plan: KPlan | None, states: Mapping[str, Any]) -> None:
        """Pass two with the plan and fitted states another engine's `prepare` made."""
        self.plan, self._states, self._combos = plan, dict(states), None

    @property
    def states(self) -> dict[str, Any]:
        """What `prepare` fitted, per column."""
        return dict(self._states)

    def tally(self) -> Tally:
        """What pass two counted so far (every started batch must be completed)."""
        if self._counting is not None:
            self._counting.result()
        if self._checking is not None:
            self._checking.result()
        raw = self._raw.table() if self.qis and not self.enforce else None
        return Tally(
            self._out.table(),
            raw,
            self.rows_in,
            self.rows_out,
            self.rows_dropped,
            self.rows_suppressed,
        )

    def use_tally(self, tally: Tally) -> None:
        """Pass two done by other engines: their merged tally, for `finish`."""
        self._out, self._raw = Counted(tally.output), Counted(tally.raw)
        self.rows_in, self.rows_out = tally.rows_in, tally.rows_out
        self.rows_dropped, self.rows_suppressed = tally.rows_dropped, tally.rows_suppressed

    def _before_sizes(self) -> np.ndarray:
        if self._before is not None:
            return self._before
        return self._raw.sizes() if self.qis else _one_class(self.rows_in)

    def gate(self) -> dict[str, Any]:
        """What the release gate counted, and against whom (the report states it)."""
        released = self.policy.output_columns
        return {
            "attacker": (
                "holds every released column of the extract and an outside table of the same "
                "people with any of those columns (masked IDs and mobiles in their display "
                "formats included), and may join several leases of one release"
            ),
            "counted_columns": self.qi_names,
            "not_counted": {
                name: _why_not_counted(self.policy, name)
                for name in released
                if name not in self.qi_names
            },
            "privacy_unit": self.unit,
            "linked_rows": self.linked,
            "counts": self.plan.model if self.plan is not None else "rows",
            "k": self.k if self.enforce else None,
            "l": self.l if self.l_column else None,
        }

    def finish(self, utility: dict[str, Any] | None) -> Report:
        """Check the output's own classes, then report; raises KAnonymityError on failure."""
        if self._counting is not None:
            self._counting.result()
        self._checker.shutdown(wait=True)  # every batch counted (and any error raised)
        if self._checking is not None:
            self._checking.result()
        if self.enforce:
            l_column = L_VALUE if self.l_column else None
            verify(
                self._out.table(),
                self.qi_names,
                k=self.k,
                l_column=l_column,
                l=self.l,
                unit_column=UNIT if self.unit else None,
                linked=self.linked,
                l_label=self.l_column,
            )
        columns: dict[str, dict[str, Any]] = {}
        for column in self.policy.columns:
            if column.rule is None:
                continue
            entry: dict[str, Any] = {"class": column.classification, "rule": column.rule.name}
            if column.rule.keyed:
                entry["key_id"] = self.keys.id_for(column.rule.key_label)
            if self.plan is not None and column.name in self.plan.levels:
                entry["generalization"] = self.plan.labels[column.name]
            columns[column.name] = entry
        return Report(
            policy_hash=self.policy.hash(),
            key_id=self.keys.key_id,
            columns=columns,
            dropped_columns=[c.name for c in self.policy.columns if c.rule is None],
            rows_in=self.rows_in,
            rows_out=self.rows_out,
            rows_dropped_by_rules=self.rows_dropped,
            rows_suppressed=self.rows_suppressed,
            k_anonymity=self.plan.to_dict() if self.plan is not None else None,
            gate=self.gate(),
            risk_before=risk_from_sizes(
                self._before_sizes(),
                self.qi_names,
                self.k,
            ),
            risk_after=risk_from_sizes(
                class_sizes(self._out, self.qi_names, self.rows_out), self.qi_names, self.k
            ),
            utility=utility,
        )


def _why_not_counted(policy: Policy, name: str) -> str:
    rule = policy.column(name).rule
    if policy.l_diversity is not None and name == policy.l_diversity.column:
        return "sensitive value protected by l-diversity"
    if rule.name == "noise":
        return f"record noise with epsilon {rule.epsilon:g} per value"  # type: ignore[union-attr]
    return f"keyed per-lease pseudonym ({rule.name})"


def _to_arrow(df: pd.DataFrame, policy: Policy) -> pa.Table:
    """The columns the policy reads, as Arrow (unnamed columns are never even converted)."""
    frame = df[[name for name in policy.required_columns if name in df.columns]]
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        schema_of(frame)  # raises a DataError naming the column, not quoting a value
        raise
    policy.validate_for(table.schema)
    return table


def pieces_of(
    engine: Desensitizer, table: pa.Table
) -> Iterator[tuple[pa.Table, pa.Table, np.ndarray]]:
    """Both passes over a table in memory (its policy's columns), piece by piece: each
    input piece, its output, and which of its rows that output keeps. The engine's
    `finish` then reports."""
    # Cache-sized pieces run faster than whole columns, and give the stream's exact output.
    pieces = [(at, table.slice(at, CHUNK_ROWS)) for at in range(0, table.num_rows, CHUNK_ROWS)]
    engine.count_raw(table)
    for offset, piece in pieces:
        engine.prefetch(piece, offset)
    # One survey over the whole table: each column's values are hashed once, where
    # pieces would look each piece up against all values seen before.
    engine.survey(table, 0, keep_bases=True)
    engine.prepare()
    # One piece ahead, as the stream does: the first output is out (to be written) as soon
    # as possible, and the workers always hold the next piece's columns.
    previous = None
    for offset, piece in pieces or [(0, table)]:
        started = (piece, engine.start(piece, offset))
        if previous is not None:
            yield (previous[0], *engine.complete(previous[1]))
        previous = started
    if previous is not None:
        yield (previous[0], *engine.complete(previous[1]))


def apply(
    data: pd.DataFrame | pa.Table,
    policy: Policy | Mapping[str, Any],
    keys: Keyring | bytes,
) -> Desensitized:
    """Desensitize a DataFrame or Arrow table in memory; columns the policy does not name
    are dropped. A DataFrame's output keeps the input's index of the kept rows."""
    policy, keys = as_policy(policy), as_keyring(keys)
    if isinstance(data, pd.DataFrame):
        table, index = _to_arrow(data, policy), data.index
    elif isinstance(data, pa.Table):
        policy.validate_for(data.schema)
        table, index = data.select(policy.required_columns), None
    else:
        raise TypeError(f"expected a pandas DataFrame or Arrow table, got {type(data).__name__}")
    with Desensitizer(policy, keys, bounded=False) as engine:
        done = list(pieces_of(engine, table))
        out = pa.concat_tables([piece for _, piece, _ in done])
        kept = np.concatenate([keep for _, _, keep in done])
        utility = measure_utility(policy, table, out, kept) if table.num_rows else None
        report = engine.finish(utility)
    return Desensitized(out, report, index[kept] if index is not None else None)

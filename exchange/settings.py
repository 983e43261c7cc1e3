"""Service settings, read from ``DATALEASE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from exchange.ingest.limits import Limits

GRADES = ("core", "important", "general")
AUTHORITY_LEVELS = ("community", "district", "municipal")
APPROVAL_STEPS = ("data_officer", *AUTHORITY_LEVELS)


class Settings(BaseSettings):
    """Everything the service needs to start; defaults give a self-contained SQLite setup."""

    model_config = SettingsConfigDict(env_prefix="DATALEASE_", extra="ignore")

    data_dir: Path = Field(default=Path("./datalease-data"))
    database_url: str | None = None
    storage_dir: Path | None = None
    master_key_file: Path | None = None
    signing_key_file: Path | None = None
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    # What an upload may expand to, counted while it is read, since a few KB of Parquet can
    # decode to gigabytes. Past rows or decoded bytes the upload is a 413; past columns or
    # cell size a 422. Registering costs about 10 ms per column (profiling), hence the
    # column limit; decoded bytes are Arrow's in-memory size (text plus 4-byte offsets).
    max_rows: int = Field(default=20_000_000, gt=0)
    max_columns: int = Field(default=1_000, gt=0)
    max_decoded_bytes: int = Field(default=1024 * 1024 * 1024, gt=0)
    max_cell_bytes: int = Field(default=256 * 1024, gt=0)
    preview_rows: int = Field(default=20, gt=0, le=1000)
    # Epsilon per dataset for the provider's own DP estimates (the profile's noise bounds and
    # rows per person), kept apart from the budget buyers draw on.
    provider_epsilon_allowance: float = Field(default=2.0, gt=0, le=100)
    currency: str = "CNY"

    # Failed-authentication throttling (exchange/api/throttle.py): after this many 401s to
    # presented keys within the window, an address (or a key prefix) gets 429 with
    # Retry-After. Counted in each worker process on its own.
    auth_failure_limit: int = Field(default=20, gt=0, le=100_000)
    auth_failure_window_seconds: float = Field(default=60.0, gt=0, le=86_400)
    auth_failure_tracked: int = Field(default=10_000, gt=0, le=10_000_000)

    # Requests of one server process that may hold database sessions at once; more wait
    # their turn, for up to db_wait_seconds, then get 503 with Retry-After. Bounded so that
    # the connection pool (exchange/db/session.py) always has one for a worker thread.
    db_requests: int = Field(default=24, ge=1, le=1000)
    db_wait_seconds: float = Field(default=30.0, gt=0, le=3600)

    # Job workers (exchange/jobs): threads per server process (0: this process runs no jobs).
    # A running job's worker renews its hold every third of job_lease_seconds; a job whose
    # hold lapsed (its process died) is queued again, up to job_max_attempts runs in all,
    # then failed with the reason. Idle workers look for queued jobs every job_poll_seconds.
    job_workers: int = Field(default=2, ge=0, le=64)
    job_lease_seconds: float = Field(default=30.0, ge=0.5, le=3600)
    job_max_attempts: int = Field(default=3, ge=1, le=100)
    job_poll_seconds: float = Field(default=1.0, gt=0, le=60)

    # Governance by grade. A new offer of a grade in review_grades waits for a compliance
    # account's review, then is disclosed on the public transparency page for
    # disclosure_days (anyone may object) before the catalog lists it; other grades are
    # reviewed automatically (logged). A lease is approved once every step of its grade's
    # chain has decided, in order: "data_officer" is the provider or a data officer of
    # the provider's organisation, "community", "district" and "municipal" a data officer
    # at that authority level. JSON in the environment, e.g.
    # DATALEASE_APPROVAL_CHAINS='{"important": ["data_officer"]}'.
    review_grades: list[str] = Field(default_factory=lambda: ["important"])
    disclosure_days: int = Field(default=7, ge=0, le=365)
    approval_chains: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "important": ["data_officer", "district", "municipal"],
            "general": [],
        }
    )

    # Datasets of these grades need a rights register before an offer: every revenue-share
    # party (the provider included; not the platform or the subject pool) must hold a
    # registered right. A dataset whose provider has registered rights is held to its
    # register whatever its grade. JSON in the environment, e.g. '["important"]'.
    rights_grades: list[str] = Field(default_factory=list)
    # The least k of a release of minors' data (a dataset with a guardian consent basis).
    minors_min_k: int = Field(default=10, ge=2, le=1000)

    # A Dask scheduler (tcp://host:8786): releases are then made on its cluster, whose
    # workers must see data_dir at the same path and have datalease installed.
    dask_scheduler: str | None = None

    @field_validator("database_url", "dask_scheduler")
    @classmethod
    def _blank_means_default(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        return value

    @field_validator("review_grades", "rights_grades")
    @classmethod
    def _known_grades(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(GRADES))
        if unknown:
            raise ValueError(f"unknown grades {unknown}; grades are {', '.join(GRADES)}")
        return value

    @field_validator("approval_chains")
    @classmethod
    def _known_steps(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for grade, chain in value.items():
            if grade not in GRADES:
                raise ValueError(f"unknown grade {grade!r}; grades are {', '.join(GRADES)}")
            unknown = sorted(set(chain) - set(APPROVAL_STEPS))
            if unknown:
                raise ValueError(
                    f"approval_chains[{grade!r}]: unknown steps {unknown}; steps are "
                    f"{', '.join(APPROVAL_STEPS)}"
                )
        return value

    def approval_chain(self, grade: str) -> list[str]:
        return list(self.approval_chains.get(grade, []))

    @property
    def upload_limits(self) -> Limits:
        return Limits(
            rows=self.max_rows,
            columns=self.max_columns,
            decoded_bytes=self.max_decoded_bytes,
            cell_bytes=self.max_cell_bytes,
        )

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'datalease.db').resolve()}"

    @property
    def resolved_storage_dir(self) -> Path:
        return self.storage_dir or self.data_dir / "store"

    @property
    def resolved_master_key_file(self) -> Path:
        return self.master_key_file or self.data_dir / "master.key"

    @property
    def resolved_signing_key_file(self) -> Path:
        return self.signing_key_file or self.data_dir / "ledger-signing.key"

    def prepare(self) -> Settings:
        """Create the data directories; returns self for chaining."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.resolved_storage_dir.mkdir(parents=True, exist_ok=True)
        return self

"""One settings object, loaded by the shell and passed down.

Sources, highest priority first: explicit overrides (CLI flags), ``SLEUTH_*`` environment variables,
the config file, defaults. The config file is the first that exists of ``$SLEUTH_CONFIG``,
``./sleuth.toml`` and ``~/.config/sleuth/sleuth.toml``. The LLM endpoint also honours the standard
``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` / ``OPENAI_MODEL`` variables.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sleuth.tools.errors import ConfigError


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sleuth"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sleuth"


def config_file_path() -> Path | None:
    explicit = os.environ.get("SLEUTH_CONFIG")
    if explicit:
        if not Path(explicit).expanduser().is_file():
            raise ConfigError(f"SLEUTH_CONFIG points to {explicit}, which is not a file")
        return Path(explicit).expanduser()
    for candidate in (Path("sleuth.toml"), Path.home() / ".config/sleuth/sleuth.toml"):
        if candidate.is_file():
            return candidate
    return None


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the config file; keys are the field names (``[sleuth]`` table or top level)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = config_file_path()
        if path is None:
            return {}
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"cannot read config file {path}: {e}") from e
        values = dict(data.get("sleuth", data))
        for key in values:
            if key not in self.settings_cls.model_fields:
                raise ConfigError(f"{path}: unknown setting {key!r}{_closest_hint(key)}")
        return values


def _closest_hint(key: str) -> str:
    close = difflib.get_close_matches(key, list(Settings.model_fields), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else "; `sleuth config` lists them all"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLEUTH_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir, description="holds sleuth.duckdb and chroma/")
    # the offline embedding model is converted to ONNX once per machine and kept here
    model_cache_dir: Path = Field(default_factory=default_cache_dir)

    # Embeddings: "minilm" is the bundled offline all-MiniLM-L6-v2; "openai" is any OpenAI-compatible endpoint.
    embedding_provider: Literal["minilm", "openai"] = "minilm"
    embedding_model: str = "text-embedding-3-small"
    embedding_base_url: str | None = None
    embedding_api_key: SecretStr | None = None
    # measured ~10% faster than 32 with per-batch padding on 2 cores
    embedding_precision: Literal["fp32", "int8"] = Field(
        default="fp32",
        description="the bundled model's weights: int8 (per-channel) is faster; changing it needs `sleuth reindex`",
    )
    embedding_batch_size: int = Field(default=16, ge=1)

    # Ingestion (the web corpus chunks pages the same way)
    chunk_chars: int = Field(default=1000, ge=1, description="characters per chunk at most")
    chunk_overlap_chars: int = Field(default=150, ge=0, description="characters a chunk shares with the next")
    max_file_mb: float = Field(default=50.0, gt=0)

    # LLM (OpenAI-compatible). Unset model => offline engine.
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    # A timed-out call is not retried (the server goes on computing it), so the timeout is generous; the
    # run's wall budget bounds every call as well.
    llm_timeout_s: float = Field(default=300.0, gt=0, description="seconds one LLM call may take")
    llm_max_concurrency: int = Field(
        default=1,
        ge=1,
        description="LLM calls in flight per endpoint (1 suits llama.cpp; vLLM/APIs take more)",
    )
    llm_max_output_tokens: int = Field(default=1024, ge=16, description="max_tokens sent with every call")
    llm_context_tokens: int = Field(
        default=8192, ge=1024, description="the model's context window: prompts are fitted to it"
    )

    # Research runs: budgets (hitting one ends the run with a partial report), the plan and evidence
    # sizes, the relevance cut-off and the offline engine's thresholds. agents.budget.ResearchLimits
    # carries these fields, by the same names, into the graph.
    max_iterations: int = Field(default=3, ge=1, description="research rounds: retrieve -> write -> verify")
    max_llm_calls: int = Field(default=40, ge=1)
    max_tokens: int = Field(default=200_000, ge=1)
    max_wall_s: float = Field(default=900.0, gt=0, description="seconds a research turn may take")
    max_sub_questions: int = Field(default=6, ge=1, description="sub-questions a plan may have at most")
    passages_per_query: int = Field(default=8, ge=1)
    max_evidence_per_section: int = Field(default=10, ge=1, description="passages a section is written from")
    max_bridge_passages: int = Field(
        default=4, ge=0, description="of those, at most this many found by following bridge entities"
    )
    sufficient_passages: int = Field(
        default=3, ge=1, description="offline decision: skip retrieval with this many on-topic passages..."
    )
    sufficient_coverage: float = Field(
        default=0.6, ge=0, le=1, description="...that together mention this share of the sub-question's terms"
    )
    relevance_min_cosine: float = Field(default=0.25, description="dense similarity a passage needs...")
    relevance_min_score_ratio: float = Field(
        default=0.3, ge=0, le=1, description="...and its fused score relative to the query's best hit"
    )
    grounding_min_coverage: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="a supported claim needs this share of its content words in its cited passages, any engine",
    )
    support_threshold: float = Field(
        default=0.6, gt=0, le=1, description="offline verifier: share of a claim's terms in the cited passage"
    )

    # Reranking after fusion, before the relevance cut-off: "llm" asks the configured model to order
    # sliding windows of candidates (listwise); "endpoint" is a cross-encoder behind a /rerank API
    # (llama.cpp server --reranking, Hugging Face TEI, vLLM, Jina/Cohere-compatible services).
    reranker: Literal["none", "llm", "endpoint"] = "none"
    rerank_depth: int = Field(default=20, ge=2, description="candidates per sub-question the reranker orders")
    rerank_window: int = Field(default=10, ge=2, le=20, description="llm reranker: passages per call")
    rerank_step: int = Field(default=5, ge=1, description="llm reranker: how far each window moves up")
    rerank_base_url: str | None = Field(default=None, description="endpoint reranker: the service's URL")
    rerank_model: str = Field(default="", description="endpoint reranker: the model name it expects, if any")
    rerank_api_key: SecretStr | None = None
    rerank_timeout_s: float = Field(default=60.0, gt=0, description="seconds one rerank request may take")

    # Web research. web: "auto" searches the web for a sub-question only when a backend is configured and
    # the local corpus does not answer it; "always" for every sub-question that retrieves; "off" never.
    web: Literal["auto", "always", "off"] = "auto"
    web_search_backend: (
        Literal["searxng", "tavily", "brave", "searxng.v1", "tavily.v1", "brave.v1", "none"] | None
    ) = None
    web_search_url: str | None = None
    web_search_api_key: SecretStr | None = None
    # The SSRF guard refuses private/loopback/link-local addresses unless allowed here (an intranet, tests).
    web_allow_private: bool = False
    web_allowed_networks: list[str] = Field(default_factory=list, description='CIDRs, e.g. ["10.1.0.0/16"]')
    web_timeout_s: float = Field(default=20.0, gt=0, description="total time one page fetch may take")
    web_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    web_max_redirects: int = Field(default=5, ge=0)
    web_concurrency: int = Field(default=8, ge=1)
    web_per_host_concurrency: int = Field(default=2, ge=1)
    web_politeness_s: float = Field(default=1.0, ge=0, description="spacing between requests to one host")
    web_respect_robots: bool = True
    web_cache_ttl_s: float = Field(
        default=86400.0, ge=0, description="fetched pages count as fresh this long"
    )
    web_failure_ttl_s: float = Field(
        default=600.0, ge=0, description="a failed fetch is not retried this long"
    )
    web_results_per_query: int = Field(default=8, ge=1)
    web_max_pages: int = Field(default=8, ge=1, description="pages fetched per sub-question at most")
    web_max_chunks_per_page: int = Field(default=40, ge=1)
    # vectors: embedded Chroma files in the data dir, or a Chroma server (`chroma run`, Chroma Cloud)
    chroma_host: str = Field(default="", description='a Chroma server\'s host; "" for the embedded store')
    chroma_port: int = Field(default=8000, ge=1, le=65535)
    chroma_ssl: bool = False
    chroma_token: SecretStr | None = Field(default=None, description="sent as Authorization: Bearer")
    chroma_headers: dict[str, str] = Field(default_factory=dict, description="more HTTP headers to send")
    chroma_collection: str = Field(
        default="",
        description='this corpus\'s collection on the server; "" derives one from the data dir, so two '
        "corpora on one server never share one",
    )
    checkpointer: str = Field(
        default="",
        description='research threads\' checkpoints: "" for checkpoints.sqlite in the data dir, or a '
        "postgresql://user:password@host:port/db URL",
    )
    # `sleuth serve`, the web app
    serve_host: str = Field(
        default="127.0.0.1", description="address to bind; beyond loopback a token is required"
    )
    serve_port: int = Field(default=8765, ge=0, le=65535)
    serve_token: SecretStr | None = Field(
        default=None, description="access token for the web app (made up and printed when needed and unset)"
    )

    @model_validator(mode="after")
    def _reranker_has_what_it_needs(self) -> Settings:
        if self.reranker == "llm" and self.llm_model in (None, "", "offline"):
            raise ValueError('reranker "llm" needs an LLM: set llm_model (and llm_base_url)')
        if self.reranker == "endpoint" and not self.rerank_base_url:
            raise ValueError('reranker "endpoint" needs rerank_base_url (the /rerank service\'s URL)')
        if self.rerank_step > self.rerank_window:
            raise ValueError(
                f"rerank_step ({self.rerank_step}) must not exceed rerank_window ({self.rerank_window})"
            )
        return self

    @model_validator(mode="after")
    def _overlap_below_chunk_size(self) -> Settings:
        if self.chunk_overlap_chars >= self.chunk_chars:
            raise ValueError(
                f"chunk_overlap_chars ({self.chunk_overlap_chars}) must be smaller than chunk_chars "
                f"({self.chunk_chars})"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _TomlSource(settings_cls)

    @property
    def duckdb_path(self) -> Path:
        return self.data_dir / "sleuth.duckdb"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def checkpoint_path(self) -> Path:
        return self.data_dir / "checkpoints.sqlite"

    @property
    def checkpoint_location(self) -> Path | str:
        """Where research threads are checkpointed: the ``checkpointer`` URL, else the SQLite file."""
        return self.checkpointer or self.checkpoint_path


def _problem(error: Any) -> str:
    where = ".".join(map(str, error["loc"]))
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def default_settings() -> Settings:
    """Every setting at its default, reading no config file and no environment (for evals and tests)."""
    return Settings.model_construct()


def load_settings(**overrides: Any) -> Settings:
    """Build settings from overrides > env > config file > defaults, filling LLM fields from OPENAI_*."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = Settings(**clean)
    except ValidationError as e:
        problems = "; ".join(_problem(err) for err in e.errors())
        raise ConfigError(f"invalid configuration: {problems}") from e
    fallbacks = {
        "llm_base_url": os.environ.get("OPENAI_BASE_URL"),
        "llm_api_key": os.environ.get("OPENAI_API_KEY"),
        "llm_model": os.environ.get("OPENAI_MODEL"),
    }
    updates = {k: v for k, v in fallbacks.items() if v and getattr(settings, k) is None}
    if "llm_api_key" in updates:
        updates["llm_api_key"] = SecretStr(updates["llm_api_key"])
    settings = settings.model_copy(update=updates)
    settings.data_dir = settings.data_dir.expanduser()
    return settings

"""YAML configuration → validated settings. Errors name the key path (`lists[1].interval`)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from . import logfilter
from .errors import ConfigError
from .models import EventKind, ListSource

DEFAULT_REPO = "https://github.com/foocker/deeplearningtheory"
DEFAULT_PATH = "README.md"

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "kb": 1_000, "mb": 1_000_000, "gb": 1_000_000_000}


def _quantity(
    value: Any, pattern: re.Pattern[str], units: dict[str, int], example: str, least: int
) -> int:
    """Read a number with a unit (or a whole number of the base unit), at least `least`."""
    amount = -1
    if isinstance(value, int) and not isinstance(value, bool):
        amount = value
    elif isinstance(value, str) and (match := pattern.match(value)):
        amount = int(float(match[1]) * units[(match[2] or "").lower()])
    if amount < 0:
        raise ValueError(f"must be {example}")
    if amount < least:
        smallest = next(unit for unit, size in units.items() if size == least)
        raise ValueError(f"must be at least 1{smallest.upper() if len(smallest) > 1 else smallest}")
    return amount


def parse_duration(value: Any) -> int:
    """Read a duration such as 90s, 15m, 2h or 1d (or a number of seconds) as seconds."""
    return _quantity(value, _DURATION, _UNITS, "a duration such as 15m, 2h or 1d", 60)


def parse_size(value: Any) -> int:
    """Read a size such as 5MB, 500KB or a number of bytes."""
    return _quantity(value, _SIZE, _SIZE_UNITS, "a size such as 5MB or 500KB", 1000)


Duration = Annotated[int, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]


def data_dir() -> Path:
    """Return the data directory: $DLTBOT_DATA_DIR, else the user's XDG data directory."""
    if env := os.environ.get("DLTBOT_DATA_DIR"):
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "dltbot"


def repo_name(repo: str) -> str:
    """Return a list name from a repository location: its last path part, without .git."""
    name = re.split(r"[/:\\]", repo.rstrip("/\\"))[-1]
    for suffix in (".git", ".bundle"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return re.sub(r"[^A-Za-z0-9._-]", "-", name).strip("-.") or "list"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ListConfig(_Strict):
    """One list to follow."""

    name: str | None = None
    repo: str
    path: str | None = None
    branch: str | None = None
    interval: Duration = 900

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.match(value):
            raise ValueError("must be letters, digits, '.', '_' or '-' (used in URLs)")
        return value

    @field_validator("repo")
    @classmethod
    def _check_repo(cls, value: str) -> str:
        value = value.strip()
        if not value or value.startswith("-"):
            raise ValueError("must be a repository URL or path")
        if "::" in value.split("/", 1)[0]:
            raise ValueError("transports such as ext:: are not allowed")
        return value

    def source(self, limits: SyncConfig | None = None) -> ListSource:
        """Return the list as sync takes it."""
        limits = limits or SyncConfig()
        return ListSource(
            name=self.name or repo_name(self.repo),
            repo=self.repo,
            path=self.path,
            branch=self.branch,
            interval_seconds=self.interval,
            git_timeout_seconds=limits.git_timeout,
            max_file_bytes=limits.max_file_size,
            max_clone_bytes=limits.max_clone_size,
        )


class ListsFromConfig(ListConfig):
    """A list of lists: every repository its entries link is followed as a list."""

    # At most this many lists come from it (the first ones, in the list's order).
    max_lists: int = Field(default=1000, ge=1, le=100_000)
    # Hosts besides the known forges whose https://host/owner/repo links are repositories.
    forges: list[str] = Field(default_factory=list)

    @field_validator("forges")
    @classmethod
    def _check_forges(cls, value: list[str]) -> list[str]:
        for host in value:
            if not re.match(r"^[a-z0-9.-]+(:\d+)?$", host):
                raise ValueError(f"{host!r}: must be a host name, such as git.example.org")
        return value


class SyncConfig(_Strict):
    """Limits on what one sync may cost: the remote and the list file are untrusted."""

    git_timeout: Duration = 600  # a clone or fetch running longer is killed
    max_file_size: Size = 5_000_000  # a larger list file marks the list failing
    # A clone growing past this on disk is killed and the list marked failing (a list of
    # lists may link a huge repository; remote clones take only the list file's blobs).
    max_clone_size: Size = 500_000_000
    # Syncs of different lists run at once, at most this many (never two of one list): a slow
    # remote holds one slot, not the schedule.
    concurrency: int = Field(default=4, ge=1, le=64)


class WebConfig(_Strict):
    """The HTTP server."""

    listen: str = "127.0.0.1:8080"
    # Seconds a connection may take to send a whole request (or stay idle between them).
    request_timeout: float = Field(default=15.0, gt=0, le=3600)
    # Open connections at most (kept under the process's file descriptor limit).
    max_connections: int = Field(default=1000, ge=16, le=100_000)
    # Behind a reverse proxy that sets X-Forwarded-Proto and X-Forwarded-Host: without
    # feed.base_url, links follow them (else only the request's Host header).
    trust_proxy: bool = False

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        parse_listen(value)
        return value

    def host_port(self) -> tuple[str, int]:
        """Return the address to listen on."""
        return parse_listen(self.listen)


def parse_listen(value: str) -> tuple[str, int]:
    """Read HOST:PORT ([::1]:8080 for IPv6)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("must be HOST:PORT, such as 127.0.0.1:8080")
    return host.strip("[]") or "0.0.0.0", int(port)


def _only_added() -> list[EventKind]:
    return ["added"]


class FeedConfig(_Strict):
    """The Atom feeds."""

    base_url: str | None = None  # default: http://<web.listen>
    entries: int = Field(default=50, ge=1, le=1000)
    kinds: list[EventKind] = Field(default_factory=lambda: _only_added())
    # A WebSub hub: the feeds name it, and `dltbot run` tells it when they change.
    websub_hub: str | None = None

    @field_validator("websub_hub")
    @classmethod
    def _check_hub(cls, value: str | None) -> str | None:
        return _http_url(value, "https://pubsubhubbub.appspot.com/", strip=False)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        return _http_url(value, "https://feeds.example.org")

    @field_validator("kinds")
    @classmethod
    def _check_kinds(cls, value: list[EventKind]) -> list[EventKind]:
        if not value:
            raise ValueError("must name at least one event kind")
        return list(dict.fromkeys(value))


class TelegramConfig(_Strict):
    """The Telegram bot; off while no token is set."""

    token: str | None = None  # default: $TELEGRAM_BOT_TOKEN
    token_file: Path | None = None  # a file holding the token (a Docker secret)
    admins: list[int] = Field(default_factory=list)  # user ids allowed /status and /sync
    channels: list[int] = Field(default_factory=list)  # chat ids that get every addition
    api_base_url: str = "https://api.telegram.org"  # a self-hosted Bot API server
    # The public URL of this server for Telegram's webhook (updates pushed, no polling).
    webhook_url: str | None = None

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook(cls, value: str | None) -> str | None:
        return _http_url(value, "https://bot.example.org (this server's public URL)")

    @field_validator("api_base_url")
    @classmethod
    def _check_api(cls, value: str) -> str:
        return _http_url(value, "https://api.telegram.org") or value

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^\d+:[A-Za-z0-9_-]{20,}$", value.strip()):
            # The message must not repeat the value: it is a secret.
            raise ValueError("is not a bot token (as BotFather gives: 123456:ABC...)")
        return value.strip() if value else None


def _http_url(value: str | None, example: str, strip: bool = True) -> str | None:
    """Check an absolute http(s) URL (None passes); without a trailing slash unless told."""
    if value is None:
        return None
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
        raise ValueError(f"must be an absolute http(s) URL, such as {example}")
    return value.rstrip("/") if strip else value


def _check_api_url(value: str) -> str:
    return _http_url(value, "https://api.example.org") or value


ApiUrl = Annotated[str, BeforeValidator(lambda v: _check_api_url(str(v)))]


def webhook_secret(token: str) -> str:
    """The secret of the Telegram webhook (its path and X-Telegram-Bot-Api-Secret-Token):
    derived from the token, so it is stable across restarts and unknowable without it."""
    return hashlib.sha256(b"dltbot telegram webhook\0" + token.encode()).hexdigest()[:48]


class WebhooksConfig(_Strict):
    """Push webhooks from the list's forge: a push syncs the list at once (`dltbot run`)."""

    # Shared with the forge; the /hooks/* endpoints answer 404 while it is unset.
    secret: str | None = None  # default: $DLTBOT_WEBHOOK_SECRET
    max_body_size: Size = 1_000_000  # a larger delivery is refused (413)

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError("must be at least 16 characters (say: openssl rand -hex 32)")
        return value


class EnrichConfig(_Strict):
    """Paper cards and link health: what each entry's link is, and whether it lives."""

    enabled: bool = True
    # The sources' API base URLs (trusted: the private-address guard does not apply).
    arxiv_api: ApiUrl = "https://export.arxiv.org/api/query"
    crossref_api: ApiUrl = "https://api.crossref.org"
    github_api: ApiUrl = "https://api.github.com"
    github_token: str | None = None  # default: $GITHUB_TOKEN
    # Fetch entry URLs whose host is loopback, private or link-local (intranets, tests).
    allow_private: bool = False
    timeout: float = Field(default=20.0, gt=0, le=300)  # seconds per request
    max_page_size: Size = 2_000_000  # a page's body is read up to this
    # Seconds one page may take to parse (in a worker process; a slower page gets no card).
    parse_timeout: float = Field(default=2.0, gt=0, le=300)
    refresh: Duration = 30 * 86400  # metadata older than this is fetched again
    recheck: Duration = 7 * 86400  # how often a link is checked (spread over the period)
    # Consecutive hard answers (404, 410, unknown host), a day apart, before "broken".
    broken_after: int = Field(default=2, ge=1, le=10)
    # How long an addition's push waits for its card.
    wait: Duration = 120
    arxiv_spacing: float = Field(default=3.0, ge=0, le=60)  # seconds between arXiv requests
    host_spacing: float = Field(default=1.0, ge=0, le=60)  # between requests to one host
    host_concurrency: int = Field(default=2, ge=1, le=16)  # requests at once to one host
    concurrency: int = Field(default=8, ge=1, le=64)  # requests at once in all
    # URLs one pass checks at most, newest entries first; the rest wait for the next pass.
    max_per_pass: int = Field(default=2000, ge=1, le=1_000_000)


class StorageConfig(_Strict):
    """Where the database lives."""

    path: Path | None = None  # default: <data directory>/dltbot.sqlite3


class ExportConfig(_Strict):
    """Static files `dltbot run` keeps up to date (what `dltbot export` writes)."""

    dir: Path | None = None  # None: no export; relative to the config file


class Config(_Strict):
    """The whole configuration file."""

    storage: StorageConfig = Field(default_factory=StorageConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    feed: FeedConfig = Field(default_factory=FeedConfig)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    sync: SyncConfig = Field(default_factory=SyncConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    enrich: EnrichConfig = Field(default_factory=EnrichConfig)
    webhooks: WebhooksConfig = Field(default_factory=WebhooksConfig)
    # Lists of lists (declared before `lists`: its check reads this one).
    lists_from: list[ListsFromConfig] = Field(default_factory=list)
    # Default: the seed list, unless lists_from names where the lists come from.
    lists: list[ListConfig] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _default_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and "lists" not in data and not data.get("lists_from"):
            return {**data, "lists": [{"repo": DEFAULT_REPO, "path": DEFAULT_PATH}]}
        return data

    @field_validator("lists")
    @classmethod
    def _unique_names(cls, value: list[ListConfig], info: ValidationInfo) -> list[ListConfig]:
        metas = info.data.get("lists_from") or []
        if not value and not metas:
            raise ValueError("must name at least one list (or leave the key out for the default)")
        names = [item.source().name for item in [*metas, *value]]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ValueError(f"two lists are named {name!r}; give one a `name:`")
        return value

    def database_path(self) -> Path:
        """Return the database file to use."""
        return self.storage.path or data_dir() / "dltbot.sqlite3"

    def base_url(self, listen: str | None = None, bound: int | None = None) -> str:
        """Return the public URL the feeds are served at (their rel="self" links):
        feed.base_url, else http:// and the address served (`listen` overrides web.listen,
        `bound` is the port actually bound when the configured one is 0)."""
        if self.feed.base_url:
            return self.feed.base_url
        host, port = parse_listen(listen) if listen else self.web.host_port()
        if host in ("0.0.0.0", "::", ""):  # every address: no reader can use that one
            host = "localhost"
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{bound or port}"

    def sources(self) -> list[ListSource]:
        """Return the lists the configuration names (lists of lists first); the lists that
        come from lists of lists are in the database (metalist.Followed adds them)."""
        return [item.source(self.sync) for item in [*self.lists_from, *self.lists]]


# Every environment variable dltbot reads, and the key it overrides (applied over the file);
# the header of config.example.yaml lists the same (a test holds them equal). Besides these,
# any value may say ${VARIABLE}, and DLTBOT_DATA_DIR moves the default database (data_dir()).
ENV_OVERRIDES = {
    "DLTBOT_DB": ("storage", "path"),
    "DLTBOT_LISTEN": ("web", "listen"),
    "DLTBOT_BASE_URL": ("feed", "base_url"),
    "DLTBOT_TELEGRAM_API": ("telegram", "api_base_url"),
    "TELEGRAM_BOT_TOKEN": ("telegram", "token"),
    "GITHUB_TOKEN": ("enrich", "github_token"),
    "DLTBOT_WEBHOOK_SECRET": ("webhooks", "secret"),
}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _interpolate(value: Any, key: str) -> Any:
    """Replace ${VAR} in every string of the settings with the environment's value."""
    if isinstance(value, dict):
        return {k: _interpolate(v, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, f"{key}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            if match[1] not in os.environ:
                raise ConfigError(f"{key}: environment variable {match[1]} is not set")
            return os.environ[match[1]]

        return _VAR.sub(replace, value)
    return value


def load_config(path: str | Path | None) -> Config:
    """Read and validate a config file; None gives the embedded default."""
    if path is None:
        return parse_config({})
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from error
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        # Name the line, never quote it: the line may hold the bot token.
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "syntax error"
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping of settings")
    return parse_config(raw, str(path))


def parse_config(raw: dict[str, Any], origin: str = "config") -> Config:
    """Validate settings already read; errors read `lists[1].interval: must be at least 1m`."""
    raw = _interpolate(raw, "")
    for variable, (section, key) in ENV_OVERRIDES.items():
        value = os.environ.get(variable)
        if value and isinstance(raw.get(section) or {}, dict):
            raw = {**raw, section: {**(raw.get(section) or {}), key: value}}
    try:
        config = Config.model_validate(raw)
    except ValidationError as error:
        raise ConfigError("\n".join(_describe(item) for item in error.errors())) from None
    base = Path(origin).parent if origin != "config" else Path(".")
    token_file = config.telegram.token_file
    if token_file is not None and not config.telegram.token:
        try:
            token = (base / token_file).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(
                f"telegram.token_file: cannot read {token_file}: {error.strerror}"
            ) from None
        try:
            telegram_config = TelegramConfig.model_validate(
                {**config.telegram.model_dump(), "token": token}
            )
        except ValidationError as error:
            problem = error.errors()[0]["msg"].removeprefix("Value error, ")
            raise ConfigError(f"telegram.token_file: {problem}") from None
        config = config.model_copy(update={"telegram": telegram_config})
    # From now on no log line, at any level and from any logger, can show a secret: the bot
    # token and the webhook secret derived from it (a path and a header), the forges'
    # webhook secret, the GitHub token, passwords in repository URLs.
    logfilter.hide(config.telegram.token)
    if config.telegram.token:
        logfilter.hide(webhook_secret(config.telegram.token))
    logfilter.hide(config.webhooks.secret)
    logfilter.hide(config.enrich.github_token)
    for item in config.lists:
        logfilter.hide_url_password(item.repo)
    if config.storage.path is not None and not config.storage.path.is_absolute():
        # A relative database path is relative to the data directory (in the image: the
        # volume), not to where we run nor to the config file (which may sit in the volume).
        storage = StorageConfig(path=data_dir() / config.storage.path)
        config = config.model_copy(update={"storage": storage})
    if config.export.dir is not None and not config.export.dir.is_absolute():
        config = config.model_copy(update={"export": ExportConfig(dir=base / config.export.dir)})
    return config


def _describe(item: Any) -> str:
    key = ""
    for part in item["loc"]:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    message = str(item["msg"]).removeprefix("Value error, ")
    # Never echo the input: a bad token is still a secret.
    if item["type"] == "extra_forbidden":
        message = "unknown key"
    elif item["type"] == "missing":
        message = "is required"
    return f"{key or 'config'}: {message}"

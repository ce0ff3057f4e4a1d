"""ccusage: what Claude Code is costing you, from the logs it already writes.

ccusage reads the transcripts Claude Code keeps under ~/.claude/projects,
records every billable API call once in a SQLite store that outlives Claude
Code's log cleanup, prices each call, and reports usage by day, week, month
or session as a table, JSON or CSV.

Run it as ``ccusage`` (installed) or ``python -m ccusage``.  Standard library
only.
"""

# ---------------------------------------------------------------------------
# Imports
# ---------------------------------------------------------------------------

import os
import re
import sqlite3
import sys
import time
from datetime import date, datetime, timedelta, timezone, tzinfo

# ---------------------------------------------------------------------------
# Version and constants
# ---------------------------------------------------------------------------

__version__ = "0.3.0"

PROG = "ccusage"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXIT_LIMIT_REACHED = 3
# `check`: a budget over its limit exits as a window at its limit does; one at its warning threshold, 4.
EXIT_BUDGET_EXCEEDED, EXIT_BUDGET_WARNING = EXIT_LIMIT_REACHED, 4

# A log line longer than this is skipped unread: no billable line comes near it,
# and holding it would break the reader's memory bound.
MAX_LINE_BYTES = 64 * 1024 * 1024
READ_CHUNK_BYTES = 4 * 1024 * 1024
# The bytes before where reading stopped are fingerprinted, to notice a file
# rewritten in place since.
TAIL_BYTES = 4096
# Writers wait this long for another process's ingest before giving up.
BUSY_TIMEOUT_MS = 600_000
MS_PER_DAY = 86_400_000
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class LazyPattern:
    """A regular expression compiled when first used: a quick run compiles only those it needs."""

    def __init__(self, pattern, flags=0):
        self.pattern, self.flags = pattern, flags
        self.compiled = None

    def __getattr__(self, name):
        if self.compiled is None:
            self.compiled = re.compile(self.pattern, self.flags)
        value = getattr(self.compiled, name)
        setattr(self, name, value)   # found directly from now on
        return value


class CcusageError(Exception):
    """A failure to report to the user as one line; exit_code says which kind."""

    def __init__(self, message, exit_code=EXIT_FAILURE):
        super().__init__(message)
        self.exit_code = exit_code


# ---------------------------------------------------------------------------
# Pricing
# ---------------------------------------------------------------------------

PRICES_CHECKED = "2026-11-24"
# Rates are USD per million tokens, in the order of RATE_FIELDS.  Sources:
# Anthropic's pricing page (mirror of 2026-08-21) for every model it lists;
# models released later carry the figures Anthropic's model pages and price
# refreshes quoted by 2026-11 (marked "unconfirmed" below).
RATE_FIELDS = ("input", "cache_write_5m", "cache_write_1h", "cache_read", "output")
WEB_SEARCH_USD = 10 / 1000
# Calls whose prompt (input + cache writes + cache reads) exceeds a band's
# threshold are billed at that band's rates.  The store sums calls per band,
# so every threshold a price uses must be one of CONTEXT_BANDS; its rollups
# count the bands a call's prompt exceeds of these two (schema version 1).
CONTEXT_BANDS = (100_000, 200_000)
LONG_CONTEXT_UNTIL = "2026-03-28"


def _rates(inp, out, read=None):
    """Standard cache multiples: 5-minute writes 1.25x, 1-hour writes 2x, reads 0.1x input."""
    return (inp, inp * 1.25, inp * 2, inp * 0.1 if read is None else read, out)


class ModelPrice:
    """Prices of one model: bands of (prompt tokens over, valid until, rates), first match wins.

    fast: multiplier for usage.speed == "fast"; us_geo: the 1.1x for
    inference_geo "us" applies; regional: Bedrock regional endpoints cost 1.1x;
    web_search: USD per search.
    """

    __slots__ = ("bands", "fast", "us_geo", "regional", "web_search")

    def __init__(self, rates, *, bands=(), fast=None, us_geo=False, regional=False, web_search=WEB_SEARCH_USD):
        self.bands = tuple(bands) + ((0, None, tuple(float(r) for r in rates)),)
        self.web_search = web_search
        self.fast = fast
        self.us_geo = us_geo
        self.regional = regional

    def rates_for(self, prompt_tokens, day):
        for over, until, rates in self.bands:
            if (not over or prompt_tokens > over) and (until is None or day < until):
                return rates
        return self.bands[-1][2]


_SONNET_4_LONG = ((200_000, LONG_CONTEXT_UNTIL, _rates(6, 22.5)),)
_OPUS_45 = dict(us_geo=False, regional=True)
_MODERN = dict(us_geo=True, regional=True)

MODEL_PRICES = {
    # unconfirmed: third-party quotes of the pricing page, November 2026
    "claude-fable-5-2": ModelPrice((8, 10, 16, 0.2, 40), fast=2.0, **_MODERN),
    "claude-fable-5-1": ModelPrice((10, 12.5, 20, 0.25, 50), **_MODERN),
    "claude-fable-5": ModelPrice((10, 12.5, 20, 1.0, 50), **_MODERN),
    # unconfirmed: Anthropic's Opus 5.5 overview, October 2026
    "claude-opus-5-5": ModelPrice((4, 5, 8, 0.2, 20), fast=2.0, **_MODERN),
    "claude-opus-5": ModelPrice((5, 6.25, 10, 0.5, 25), fast=2.0, **_MODERN),
    "claude-opus-4-8": ModelPrice((5, 6.25, 10, 0.5, 25), fast=2.0, **_MODERN),
    "claude-opus-4-7": ModelPrice((5, 6.25, 10, 0.5, 25), fast=6.0, **_MODERN),
    "claude-opus-4-6": ModelPrice((5, 6.25, 10, 0.5, 25), fast=6.0, **_MODERN),
    "claude-opus-4-5": ModelPrice((5, 6.25, 10, 0.5, 25), **_OPUS_45),
    "claude-opus-4-1": ModelPrice((15, 18.75, 30, 1.5, 75)),
    "claude-opus-4": ModelPrice((15, 18.75, 30, 1.5, 75)),
    # unconfirmed: cache reads were $0.20 until the cut of 2026-10-07
    "claude-sonnet-5-5": ModelPrice((2, 2.5, 4, 0.1, 10), bands=((0, "2026-10-07", (2, 2.5, 4, 0.2, 10)),),
                                    **_MODERN),
    "claude-sonnet-5": ModelPrice((2, 2.5, 4, 0.2, 10), **_MODERN),
    "claude-sonnet-4-6": ModelPrice((3, 3.75, 6, 0.3, 15), **_MODERN),
    "claude-sonnet-4-5": ModelPrice((3, 3.75, 6, 0.3, 15), bands=_SONNET_4_LONG, **_OPUS_45),
    "claude-sonnet-4": ModelPrice((3, 3.75, 6, 0.3, 15), bands=_SONNET_4_LONG),
    "claude-3-7-sonnet": ModelPrice((3, 3.75, 6, 0.3, 15)),
    "claude-3-5-sonnet": ModelPrice(_rates(3, 15)),
    "claude-3-sonnet": ModelPrice(_rates(3, 15)),
    # unconfirmed: a whole request over 100k prompt tokens is billed at the high band
    "claude-haiku-5-5": ModelPrice((0.1, 0.125, 0.2, 0.01, 0.5),
                                   bands=((100_000, None, (0.5, 0.625, 1.0, 0.05, 2.5)),), **_MODERN),
    "claude-haiku-4-5": ModelPrice((1, 1.25, 2, 0.1, 5), **_OPUS_45),
    "claude-3-5-haiku": ModelPrice((0.8, 1, 1.6, 0.08, 4)),
    "claude-3-haiku": ModelPrice((0.25, 0.3, 0.5, 0.03, 1.25)),
    "claude-3-opus": ModelPrice((15, 18.75, 30, 1.5, 75)),
    "claude-2": ModelPrice(_rates(8, 24)),
    "claude-instant-1": ModelPrice(_rates(0.8, 2.4)),
}
PRICE_CHANGE_DATES = sorted({until for price in MODEL_PRICES.values() for _, until, _ in price.bands if until})
MODEL_ALIASES = {
    "claude-mythos-5": "claude-fable-5",
    "claude-mythos-5-1": "claude-fable-5-1",
    "claude-4-opus": "claude-opus-4",
    "claude-4-sonnet": "claude-sonnet-4",
    "claude-4-1-opus": "claude-opus-4-1",
    "claude-2-1": "claude-2",
    "claude-v1": "claude-2",
    "claude-v2": "claude-2",
    "claude-v2:1": "claude-2",
    "claude-instant": "claude-instant-1",
    "claude-instant-v1": "claude-instant-1",
}
# Bedrock cross-region prefixes that are regional (every one but "global").
_BEDROCK_ID = LazyPattern(r"^(?:([a-z]+(?:-[a-z]+)?)\.)?anthropic\.(.+)$")
_DOTTED_VERSION = LazyPattern(r"(?<=\d)\.(?=\d)")
_ID_SUFFIXES = LazyPattern(r"(?:-v\d+(?::\d+)?|@[\w.-]*|-\d{8}|-latest|-fast|-thinking)+$")
# Routers' spelling, the version before the family: claude-4-7-opus.
_VERSION_FIRST = LazyPattern(r"^claude-(\d+(?:-\d+)*)-(opus|sonnet|haiku|fable|mythos)$")


def canonical_model(model_id):
    """Map a model id as logged to (price-table name, regional endpoint?).

    Version components match whole: the dated, Bedrock and Vertex spellings of
    claude-opus-4-6 all become "claude-opus-4-6", and never "claude-opus-4".
    """
    name = model_id.strip().lower().rsplit("/", 1)[-1]
    # Claude Code's own spelling, the name and a date, needs no pattern.
    dated = name[:-9] if len(name) > 9 and name[-9] == "-" and name[-8:].isdigit() else name
    if dated in MODEL_PRICES:
        return dated, False
    regional = False
    match = _BEDROCK_ID.match(name)
    if match:
        regional = match.group(1) not in (None, "global")
        name = match.group(2)
    if name in MODEL_ALIASES:
        return MODEL_ALIASES[name], regional
    name = _ID_SUFFIXES.sub("", _DOTTED_VERSION.sub("-", name))
    if name in MODEL_ALIASES:
        return MODEL_ALIASES[name], regional
    if name not in MODEL_PRICES:
        swapped = _VERSION_FIRST.sub(r"claude-\2-\1", name)
        name = swapped if swapped in MODEL_PRICES else name
    return name, regional


class PriceBook:
    """The embedded table, overlaid by the user's own prices."""

    def __init__(self, overrides=None):
        self.overrides = overrides or {}
        self._cache = {}

    def lookup(self, model_id):
        """(ModelPrice or None, regional) for a logged model id."""
        if model_id not in self._cache:
            name, regional = canonical_model(model_id)
            price = (self.overrides.get(model_id) or self.overrides.get(name)
                     or MODEL_PRICES.get(name))
            self._cache[model_id] = (price, regional)
        return self._cache[model_id]

    @staticmethod
    def change_dates():
        """Every day on which some price changes, in order (a user's prices carry no dates)."""
        return PRICE_CHANGE_DATES

    def cost(self, model_id, tokens, searches, prompt_tokens, day, fast, us_geo):
        """USD for token sums (RATE_FIELDS order) of calls sharing one price, or None if unpriced."""
        price, regional = self.lookup(model_id)
        if price is None:
            return None
        rates = price.rates_for(prompt_tokens, day)
        usd = sum(n * r for n, r in zip(tokens, rates)) / 1e6
        if fast and price.fast:
            usd *= price.fast
        if (us_geo and price.us_geo) or (regional and price.regional):
            usd *= 1.1
        return usd + searches * price.web_search


PRICE_KEYS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read", "web_search")


def price_entries(data, where):
    """User prices {"model": {"input": 3, "output": 15, ...}} (USD per million tokens) as ModelPrices.

    Only input and output are required: the cache prices follow the standard
    multiples of the input price, and web_search (USD per search) defaults to
    the $10 per 1,000 everyone pays.
    """
    if not isinstance(data, dict):
        raise CcusageError(f"{where}: expected a table of model names", EXIT_USAGE)
    prices = {}
    for model, entry in data.items():
        at = f"{where}: model {model!r}"
        if not isinstance(entry, dict):
            raise CcusageError(f"{at}: expected a table of prices", EXIT_USAGE)
        unknown = sorted(set(entry) - set(PRICE_KEYS))
        if unknown:
            raise CcusageError(f"{at}: unknown key {unknown[0]!r} (expected {', '.join(PRICE_KEYS)})",
                               EXIT_USAGE)
        for key, value in entry.items():
            if type(value) not in (int, float) or not 0 <= value < MAX_COST_USD:
                raise CcusageError(f"{at}: {key} must be a number from 0 to {MAX_COST_USD:,.0f}", EXIT_USAGE)
        if "input" not in entry or "output" not in entry:
            raise CcusageError(f"{at}: input and output are required", EXIT_USAGE)
        base = _rates(entry["input"], entry["output"], entry.get("cache_read"))
        rates = tuple(entry.get(field, default) for field, default in zip(RATE_FIELDS, base))
        prices[model] = ModelPrice(rates, web_search=entry.get("web_search", WEB_SEARCH_USD))
        prices.setdefault(canonical_model(model)[0], prices[model])
    return prices


# Settings and price files are a few kilobytes; one larger is not one of them.
MAX_SETTINGS_BYTES = 4 * 1024 * 1024


def read_settings_file(path, what):
    """The bytes of a settings or price file, which must be a regular file of at most MAX_SETTINGS_BYTES.

    Opened without blocking, so a FIFO or a device named by mistake is
    refused at once instead of read forever.  FileNotFoundError is left to
    the caller: whether a missing file is an error depends on who named it.
    """
    import stat
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CcusageError(f"{what} {path} is not a regular file", EXIT_USAGE)
        chunks, size = [], 0
        while size <= MAX_SETTINGS_BYTES:
            chunk = os.read(fd, MAX_SETTINGS_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > MAX_SETTINGS_BYTES:
        raise CcusageError(f"{what} {path} is larger than {MAX_SETTINGS_BYTES // (1024 * 1024)} MB", EXIT_USAGE)
    return b"".join(chunks)


def load_price_file(path, required):
    """Prices from a JSON price file; a missing file is an error only when the user named it."""
    try:
        raw = read_settings_file(path, "price file")
    except FileNotFoundError:
        if required:
            raise CcusageError(f"price file {path} does not exist", EXIT_USAGE)
        return {}
    except (OSError, ValueError) as exc:
        raise CcusageError(f"price file {path}: {_reason(exc)}", EXIT_USAGE)
    import json
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise CcusageError(f"price file {path}: invalid JSON: {exc}", EXIT_USAGE)
    except RecursionError:
        raise CcusageError(f"price file {path}: nested too deeply to read", EXIT_USAGE)
    return price_entries(data, f"price file {path}")


# ---------------------------------------------------------------------------
# Reading logs
# ---------------------------------------------------------------------------

def _expand(path):
    return os.path.abspath(os.path.expanduser(path))


def _strip_projects(path):
    path = path.rstrip(os.sep) or os.sep
    return os.path.dirname(path) if os.path.basename(path) == "projects" else path


def default_roots(environ):
    """The Claude config dirs read when none is named: ~/.config/claude and ~/.claude."""
    xdg = environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return [_expand(os.path.join(xdg, "claude")), _expand(os.path.join(os.path.expanduser("~"), ".claude"))]


class ScanReport:
    """What one sync found and read (for --verbose), and whether it could read it all."""

    def __init__(self):
        self.files = 0
        self.files_read = 0
        self.bytes_read = 0
        self.calls_seen = 0
        self.unreadable = []
        # busy: another process held the store and the caller would not wait;
        # complete: everything new was read (not so when a time budget ran out).
        self.busy = False
        self.complete = True
        # readonly: the store could not be written, so nothing new was recorded.
        self.readonly = False

    def add_unreadable(self, path, exc):
        self.unreadable.append((path, _reason(exc)))


# A directory changed this shortly before a walk began is listed again by
# the next one: another entry could still come within the same tick of the
# file system's clock, leaving its times as they were.
LISTING_SETTLE_NS = 2 * 10 ** 9
LISTINGS_HEADER = "ccusage listings 1"


def _directory_identity(st):
    return f"{st.st_dev} {st.st_ino} {st.st_mtime_ns} {st.st_ctime_ns}"


class Listings:
    """What each directory below the roots held when a walk last listed it, kept in a file beside the store.

    A directory whose device, inode, modification and change times are as
    they were holds the same entries, so a walk stats its logs (which may
    still grow) and its subdirectories without listing it again.  The file
    is NUL-separated text, five fields a directory: its path, its identity,
    then its subdirectories, all its entries that are links (whatever they
    lead to), and its logs, each a "/"-joined list of names (neither
    character is ever in a name).  Anything in it that is not as the
    directory now is makes the walk list that directory again.
    """

    def __init__(self, path):
        self.path = path
        self.started_ns = time.time_ns()
        # directory -> (identity, subdirectories, links, logs)
        self.kept = {}
        self.fresh = {}
        self.walked = []
        try:
            with open(path, "rb") as f:
                fields = f.read().decode("utf-8", "surrogateescape").split("\0")
        except (OSError, ValueError):
            return
        if fields[0] == LISTINGS_HEADER and len(fields) % 5 == 1:
            self.kept = dict(zip(fields[1::5], zip(fields[2::5], fields[3::5], fields[4::5], fields[5::5])))

    def settled(self, st):
        """Whether the listing of a directory of these times may be kept (see LISTING_SETTLE_NS)."""
        return max(st.st_mtime_ns, st.st_ctime_ns) < self.started_ns - LISTING_SETTLE_NS

    def save(self):
        """Write the listings of this walk (and those kept of tops it did not walk), if they changed."""
        if self.fresh == self.kept:
            return
        tops = tuple(top + os.sep for top in self.walked)
        listings = dict(self.fresh)
        for directory, listing in self.kept.items():
            if directory not in listings and directory not in self.walked and not directory.startswith(tops):
                listings[directory] = listing
        if listings == self.kept:
            return
        fields = [LISTINGS_HEADER]
        for directory, listing in listings.items():
            fields.append(directory)
            fields.extend(listing)
        temporary = f"{self.path}.{os.getpid()}"
        try:
            # As private as the store: the names are those of the user's projects and sessions.
            with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
                f.write("\0".join(fields).encode("utf-8", "surrogateescape"))
            os.replace(temporary, self.path)
        except OSError:
            try:
                os.remove(temporary)
            except OSError:
                pass


def _as_listed(directory, listing, stat):
    """(paths and stats of the logs, of the subdirectories) that a kept listing names, statted now;
    None when one is gone, or a link no longer leads to what it led to (an entry that is no link
    changes kind only by a change to the directory, which its identity shows)."""
    _, subdirectories, links, logs = listing
    prefix = directory + os.sep
    try:
        paths = [prefix + name for name in logs.split("/")] if logs else []
        files = list(map(stat, paths))
        below = [prefix + name for name in subdirectories.split("/")] if subdirectories else []
        targets = list(map(stat, below))
    except OSError:
        return None
    if links:
        as_logs, as_directories = set(logs.split("/")), set(subdirectories.split("/"))
        for name in links.split("/"):
            try:
                kind = stat(prefix + name).st_mode & 0o170000
            except OSError:
                kind = None
            if name in as_directories:
                kept = kind == 0o040000
            elif name in as_logs:
                kept = kind == 0o100000
            else:   # passed over: dangling, or leading to neither a directory nor a log
                kept = kind != 0o040000 and not (kind == 0o100000 and name.endswith(".jsonl"))
            if not kept:
                return None
    return paths, files, below, targets


def find_logs(root, report, directory=None, recursive=True, listings=None):
    """[(path, (dev, inode, size, mtime_ns))] of every *.jsonl below root/projects (or below directory).

    Directory links are followed but never round a loop, and a file reachable
    by two paths is listed once.  recursive=False: directory's own entries.
    listings (a Listings, for a whole walk): directories unchanged since it
    listed them are not listed again, and those listed now are kept in it.
    """
    found = []
    seen_links = set()
    top = directory or os.path.join(root, "projects")
    try:
        st = os.stat(top)
        seen_links.add((st.st_dev, st.st_ino))
    except OSError:
        st = None
    if listings is not None:
        listings.walked.append(top)
    stack = [(top, st)]
    kept = listings.kept if listings is not None else {}
    stat = os.stat
    while stack:
        directory, st = stack.pop()
        listing = kept.get(directory)
        if listing is not None and st is not None and listing[0] == _directory_identity(st):
            entries = _as_listed(directory, listing, stat)
            if entries is not None:
                paths, files, below, targets = entries
                found.extend(zip(paths, [(f.st_dev, f.st_ino, f.st_size, f.st_mtime_ns) for f in files]))
                if listing[2]:
                    links = set(listing[2].split("/"))
                    for path, target, name in zip(below, targets, listing[1].split("/")):
                        if name in links:
                            if (target.st_dev, target.st_ino) in seen_links:
                                continue
                            seen_links.add((target.st_dev, target.st_ino))
                        stack.append((path, target))
                else:
                    stack.extend(zip(below, targets))
                listings.fresh[directory] = listing
                continue
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            continue
        except OSError as exc:
            report.add_unreadable(directory, exc)
            continue
        # What is recorded of this directory: kept only if every entry could be looked at.
        subdirectories, links, logs = [], [], []
        complete = True
        for entry in entries:
            try:
                # Every link is named in the listing: what it leads to can change with no change here.
                link = entry.is_symlink()
                if link:
                    links.append(entry.name)
                if entry.is_dir():
                    if not recursive:
                        continue
                    target = None
                    if link:
                        # Only a link can lead round a loop.
                        target = os.stat(entry.path)
                        if (target.st_dev, target.st_ino) in seen_links:
                            subdirectories.append(entry.name)
                            continue
                        seen_links.add((target.st_dev, target.st_ino))
                    elif listings is not None:
                        try:
                            target = os.stat(entry.path)
                        except OSError:
                            # Gone since it was listed: its own listing finds out.
                            complete = False
                    subdirectories.append(entry.name)
                    stack.append((entry.path, target))
                elif entry.name.endswith(".jsonl") and entry.is_file():
                    found.append((entry.path, _file_state(entry.stat())))
                    logs.append(entry.name)
            except OSError as exc:
                complete = False
                report.add_unreadable(entry.path, exc)
        if listings is not None and complete and st is not None and listings.settled(st):
            listings.fresh[directory] = (_directory_identity(st), "/".join(subdirectories), "/".join(links),
                                         "/".join(logs))
    if len({state[:2] for _, state in found}) < len(found):
        # A file reached by two paths (links, hard links) is listed where the walk first met it.
        seen = set()
        found = [(path, state) for path, state in found if state[:2] not in seen and not seen.add(state[:2])]
    return found


def walk_digest(found):
    """A digest of the paths and states find_logs found, the same in every process.

    Python salts the hashes of text, not of integers: the paths go in as a
    CRC, the files' (device, inode, size, mtime) tuples as they are.
    """
    import zlib
    paths, states = zip(*found) if found else ((), ())
    return hash((zlib.crc32(os.fsencode("\0".join(paths))), states))


def parse_timestamp(value):
    """Epoch milliseconds of an ISO 8601 time (UTC when it names no offset), or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        moment = _parse_timestamp_slow(value)
        if moment is None:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    ms = int(moment.timestamp() * 1000)
    return ms if EARLIEST_MS <= ms < LATEST_MS else None


_ISO = LazyPattern(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?\s*(Z|[+-]\d\d:?\d\d)?$")


def _parse_timestamp_slow(value):
    """The ISO forms Python 3.9's fromisoformat rejects (e.g. 4 or 9 fraction digits)."""
    match = _ISO.match(value.strip())
    if not match:
        return None
    y, mo, d, h, mi, s, frac, zone = match.groups()
    try:
        moment = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0),
                          int((frac or "0")[:6].ljust(6, "0")))
    except ValueError:
        return None
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return moment.replace(tzinfo=timezone(sign * offset))
    return moment.replace(tzinfo=timezone.utc)


# No call bills more tokens than this; a larger count is damage, and would
# overflow the store's 64-bit sums.
MAX_TOKENS = 2 ** 40
MAX_COST_USD = 1e6
# Times outside these years are damage; they would also break the calendar arithmetic.
EARLIEST_MS, LATEST_MS = 946_684_800_000, 7_258_118_400_000   # 2000-01-01, 2200-01-01


def _count(usage, key):
    value = usage.get(key, 0)
    if type(value) is int and 0 <= value < MAX_TOKENS:  # bool is an int, but not a count
        return value
    if value is None:
        return 0
    raise ValueError(key)


LIMIT_MARK = "usage limit reached|"


# A call as the reader makes it: a plain tuple of these fields, cheap to build
# and to pass between processes.  The store keeps the usage fields as they
# are and the names (session, cwd, model) as ids; queries read them by name.
USAGE_FIELDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read", "web_searches", "fast",
                "us_geo", "cost_usd")
CALL_FIELDS = ("key", "ts", "session", "cwd", "model") + USAGE_FIELDS
(C_KEY, C_TS, C_SESSION, C_CWD, C_MODEL, C_INPUT, C_OUTPUT, C_CACHE_5M, C_CACHE_1H, C_CACHE_READ,
 C_SEARCHES, C_FAST, C_US_GEO, C_COST) = range(len(CALL_FIELDS))


def merge_lines(earlier, later, ts=C_TS, output=C_OUTPUT):
    """One call from two lines (tuples) of the same response: the final usage, the first time.

    The line with the most output tokens carries the response's final usage
    (on a tie the later line); the earliest line carries its time.  ts and
    output are the positions of those fields in the tuples.
    """
    final = later if later[output] >= earlier[output] else earlier
    first = min(earlier[ts], later[ts])
    return final if final[ts] == first else final[:ts] + (first,) + final[ts + 1:]


class JSONScanner:
    """json's C scanner, made when a log is first read: a command that reads none does not import json."""

    scan = None

    @classmethod
    def get(cls):
        if cls.scan is None:
            import json
            cls.scan = json.scanner.make_scanner(json.JSONDecoder())
        return cls.scan


def _json_value(text):
    start = 0 if text[:1] == "{" else _JSON_SPACE.match(text).end()
    try:
        value, end = (JSONScanner.scan or JSONScanner.get())(text, start)
    except StopIteration:
        raise ValueError("not JSON")
    if end != len(text) and text[end:].strip():
        raise ValueError("text after the JSON value")
    return value


_JSON_SPACE = LazyPattern(r"[ \t\n\r]*")
# A string from a line of JSON holds one only through a \ud800-\udfff escape
# without its pair; SQLite cannot store it.
_LONE_SURROGATE = LazyPattern("[\ud800-\udfff]")


def _storable(text):
    """text with any lone surrogate replaced by U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def parse_line(line, session_hint):
    """The call a log line bills (a tuple), None for a line that bills nothing, ValueError for a bad line.

    Billable: an assistant line with message.usage, or the copy of one that a
    parent transcript keeps inside a progress line.  Model "<synthetic>" is
    Claude Code's own text and bills nothing.  A response whose
    usage.iterations bills steps of its own (iteration_calls) gives a list:
    its call, then the steps' calls.
    """
    obj = _json_value(line.decode("utf-8"))
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    kind = obj.get("type")
    if kind == "assistant":
        record = obj
    elif kind == "progress":
        data = obj.get("data")
        record = data.get("message") if isinstance(data, dict) else None
        if not isinstance(record, dict) or record.get("type") != "assistant":
            return None
    else:
        return None
    message = record.get("message")
    if not isinstance(message, dict):
        raise ValueError("message of the wrong type")
    usage = message.get("usage")
    model = message.get("model")
    if usage is None or model == "<synthetic>":
        return None
    if not isinstance(usage, dict) or not isinstance(model, str) or not model:
        raise ValueError("usage or model of the wrong type")
    ts = parse_timestamp(record.get("timestamp") or obj.get("timestamp"))
    if ts is None:
        raise ValueError("no valid timestamp")
    message_id, request_id = message.get("id"), record.get("requestId")
    if not isinstance(message_id, str) or not message_id:
        raise ValueError("no message id")
    key = f"{message_id}:{request_id}" if isinstance(request_id, str) and request_id else message_id
    session = session_hint or obj.get("sessionId")
    session = session if isinstance(session, str) and session else None
    cwd = obj.get("cwd")
    cwd = cwd if isinstance(cwd, str) and cwd else None
    # str.isascii() takes no time: a text without escapes needs no look.
    if not (key.isascii() and model.isascii() and (session or "").isascii() and (cwd or "").isascii()):
        key, model, session, cwd = (text and _storable(text) for text in (key, model, session, cwd))
    # usage_fields, written out: a transcript's every billable line comes here, and calling it (and joining
    # its tuple to this one) makes parse_line some 4% slower.
    cache_write = _count(usage, "cache_creation_input_tokens")
    split = usage.get("cache_creation")
    one_hour = min(_count(split, "ephemeral_1h_input_tokens"), cache_write) if isinstance(split, dict) else 0
    tools = usage.get("server_tool_use")
    cost = record.get("costUSD")
    call = (
        key,
        ts,
        session,
        cwd,
        model,
        _count(usage, "input_tokens"),
        _count(usage, "output_tokens"),
        cache_write - one_hour,
        one_hour,
        _count(usage, "cache_read_input_tokens"),
        _count(tools, "web_search_requests") if isinstance(tools, dict) else 0,
        1 if usage.get("speed") == "fast" else 0,
        1 if usage.get("inference_geo") == "us" else 0,
        float(cost) if type(cost) in (int, float) and 0 <= cost < MAX_COST_USD else None,
    )
    if usage.get("iterations"):
        steps = iteration_calls(call, usage)
        if steps:
            return [call] + steps
    return call


def iteration_calls(call, usage):
    """The calls a response's usage.iterations bills beside its top-level counts (a list, often empty).

    Each entry is one sampling step.  When the top-level input counts are
    each at least the steps' sums they already include every step, and
    nothing more is billed; otherwise every step that is not the final "message" one
    (a compaction, an advisor's reply) is a call of its own, keyed by the
    response's key and its place in the list, priced as the model it names.
    ValueError: an entry that is not an object, or a bad count.
    """
    iterations = usage.get("iterations")
    if not isinstance(iterations, list) or not iterations:
        return []
    counts = []
    for step in iterations:
        if not isinstance(step, dict):
            raise ValueError("an iteration that is not an object")
        counts.append(tuple(_count(step, name) for name in _ITERATION_COUNTS))
    top = tuple(_count(usage, name) for name in _ITERATION_COUNTS)
    if all(total >= sum(column) for total, column in zip(top, zip(*counts))):
        return []
    steps = []
    for index, step in enumerate(iterations):
        if step.get("type") == "message":
            continue
        model = step.get("model")
        model = _storable(model) if isinstance(model, str) and model else call[C_MODEL]
        steps.append((f"{call[C_KEY]}#{index}", call[C_TS], call[C_SESSION], call[C_CWD], model)
                     + usage_fields(step) + (None,))
    return steps


# The counts an iteration carries, compared with the top level's to see whether it includes the steps:
# not the output, a placeholder on a response's early lines (which may carry steps with placeholders too).
_ITERATION_COUNTS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def parse_limit_reset(line):
    """(time of the line, reset epoch seconds) of a limit message, or None.

    Claude Code 1.x wrote "Claude AI usage limit reached|<epoch>"; 2.x writes
    "You've hit your limit · resets 7pm (Asia/Shanghai)" (or "resets Feb 22
    at 1pm (...)") in a line with "error": "rate_limit".
    """
    import json
    try:
        obj = json.loads(line)
        ts = parse_timestamp(obj.get("timestamp"))
        content = obj["message"]["content"]
        texts = [content] if isinstance(content, str) else [b.get("text") for b in content]
        for text in texts:
            if not isinstance(text, str) or ts is None:
                continue
            if LIMIT_MARK in text:
                reset = int(text.split(LIMIT_MARK, 1)[1].strip().split()[0])
            elif obj.get("error") == "rate_limit":
                reset = wall_clock_reset(text, ts)
                if reset is None:
                    continue
            else:
                continue
            # A limit resets within its week, never before it is reached (give or take a clock).
            if ts - MS_PER_DAY <= reset * 1000 <= ts + 8 * MS_PER_DAY:
                return ts, reset
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, OverflowError, CcusageError):
        pass
    return None


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_RESET_TEXT = LazyPattern(r"\bresets\s+(?:(?P<month>[A-Za-z]{3})[a-z]*\.?\s+(?P<day>\d{1,2}),?\s+(?:at\s+)?)?"
                         r"(?P<hour>\d{1,2})(?::(?P<minute>\d\d))?\s*(?P<half>[ap]\.?m\.?)?"
                         r"\s*\((?P<zone>[A-Za-z][A-Za-z0-9_+\-/]*)\)", re.I)


def wall_clock_reset(text, ts_ms):
    """The epoch seconds of "resets 7pm (Zone)" or "resets Feb 22 at 1pm (Zone)" said at ts_ms, or None.

    Without a date it is the next such wall-clock moment in the zone after
    ts_ms; with one, that day in the year that puts it nearest after ts_ms.
    """
    match = _RESET_TEXT.search(text)
    if not match:
        return None
    hour, minute = int(match.group("hour")), int(match.group("minute") or 0)
    half = (match.group("half") or "").lower().replace(".", "")
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    tz = load_timezone(match.group("zone"))
    said = datetime.fromtimestamp(ts_ms / 1000, tz)
    if match.group("month"):
        month = match.group("month").lower()
        if month not in _MONTHS:
            return None
        for year in (said.year - 1, said.year, said.year + 1):
            try:
                moment = datetime(year, _MONTHS.index(month) + 1, int(match.group("day")), hour, minute, tzinfo=tz)
            except ValueError:
                continue
            if moment.timestamp() * 1000 > ts_ms - MS_PER_DAY:
                return int(moment.timestamp())
        return None
    moment = datetime(said.year, said.month, said.day, hour, minute, tzinfo=tz)
    if moment.timestamp() * 1000 <= ts_ms:
        day = said.date() + timedelta(days=1)
        moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
    return int(moment.timestamp())


def session_of_path(path):
    """The parent session a subagent file belongs to (projects/<dir>/<session>/subagents/...), or None."""
    parts = path.split(os.sep)
    if "projects" not in parts:
        return None
    below = parts[len(parts) - parts[::-1].index("projects"):]
    if "subagents" in below[2:]:
        return below[below.index("subagents", 2) - 1]
    return None


class LogChunkReader:
    """Reads the complete lines of a file from an offset, keeping billable ones.

    Only a line with an assistant type and a "usage" key can bill anything,
    so only such lines are parsed.  Claude Code writes compact JSON, where
    the type is found as bytes ('"type":"assistant"'); a line written with
    other spacing (as its first key shows) is parsed when it holds both
    words at all.  Skipped and counted: such lines that cannot be read,
    lines that do not even have the shape of a JSON object (not ending in
    "}"), and lines too long to hold.  Other lines are not parsed, so other
    damage to them goes uncounted: it costs nothing.  A last line without
    its newline is left for the next run.
    """

    def __init__(self, path):
        self.path = path
        self.session_hint = session_of_path(path)
        self.calls = {}
        self.billable_lines = 0
        self.limit_resets = []
        self.skipped = 0
        self.bytes_read = 0

    def read(self, f, offset):
        """Read f from offset; return the offset after the last complete line."""
        f.seek(offset)
        pending = b""
        discarding = False
        while True:
            chunk = f.read(READ_CHUNK_BYTES)
            if not chunk:
                break
            self.bytes_read += len(chunk)
            if discarding:
                newline = chunk.find(b"\n")
                if newline < 0:
                    offset += len(chunk)
                    continue
                offset += newline + 1
                self.skipped += 1
                discarding = False
                chunk = chunk[newline + 1:]
            data = pending + chunk if pending else chunk
            end = data.rfind(b"\n") + 1
            pending = data[end:]
            if not end:
                if len(pending) > MAX_LINE_BYTES:
                    offset += len(pending)
                    pending, discarding = b"", True
                continue
            self._scan(data, end)
            offset += end
        return offset

    def _scan(self, data, end):
        """Take in the lines of data[:end], which ends in a newline.

        The lines are found in place, and only a billable one is copied out:
        most of a log's bytes are in lines that are passed over, and the
        assistant type is searched for across them, not line by line.
        """
        calls, hint, find, startswith = self.calls, self.session_hint, data.find, data.startswith
        # Where the next assistant type is; when there is none, find's -1 becomes end.
        marked = find(_ASSISTANT_TYPE, 0, end) % (end + 1)
        start = 0
        while start < end:
            stop = find(b"\n", start, end)
            last = data[stop - 1] if stop > start else _NEWLINE
            if last == _CLOSING_BRACE or (last == _CARRIAGE_RETURN and stop - 1 > start
                                          and data[stop - 2] == _CLOSING_BRACE):
                if marked < stop:
                    # Claude Code writes the usage near the end of the line.
                    billable = data.rfind(_USAGE_KEY, start, stop) >= 0
                else:
                    # Compact JSON that names no assistant type bills nothing.
                    billable = not startswith(_COMPACT_STARTS, start) and _maybe_billable(data, start, stop)
                if billable:
                    line = data[start:stop]
                    try:
                        call = parse_line(line, hint)
                    except (ValueError, RecursionError):
                        self.skipped += 1
                    else:
                        if call is not None:
                            self.billable_lines += 1
                            for one in (call,) if type(call) is tuple else call:
                                previous = calls.get(one[C_KEY])
                                calls[one[C_KEY]] = one if previous is None else merge_lines(previous, one)
                        elif _LIMIT_MARK_BYTES in line or _RATE_LIMIT_ERROR in line:
                            reset = parse_limit_reset(line)
                            if reset:
                                self.limit_resets.append(reset)
            elif data[start:stop].strip():
                self.skipped += 1
            if marked < stop:
                marked = find(_ASSISTANT_TYPE, stop, end) % (end + 1)
            start = stop + 1


def _maybe_billable(data, start, stop):
    """Whether the line data[start:stop], which has no '"type":"assistant"', may bill all the same.

    It may only when it is not in the compact form (an object whose first
    key is followed by a colon and its value, no spaces between) and holds
    both words.
    """
    key_end = data.find(b'"', start + 2, stop)
    if data[start] == _OPENING_BRACE and data[start + 1] == _QUOTE and key_end > 0 \
            and data[key_end + 1] == _COLON and data[key_end + 2] not in _JSON_SPACES:
        return False
    return data.find(_USAGE_KEY, start, stop) >= 0 and data.find(_ASSISTANT, start, stop) >= 0


# A JSON object's line ends in "}" (before a "\r" where lines end in CRLF).
_NEWLINE, _CARRIAGE_RETURN, _CLOSING_BRACE, _OPENING_BRACE, _QUOTE, _COLON = b"\n\r}{\":"
_JSON_SPACES = b" \t\r\n"
# The first keys of the lines Claude Code writes, in its compact form.
_COMPACT_STARTS = (b'{"parentUuid":"', b'{"parentUuid":n', b'{"type":"')
# A billable line holds an assistant type and a usage key: in the compact
# form the first, in any form the last two.
_ASSISTANT_TYPE, _USAGE_KEY, _ASSISTANT = b'"type":"assistant"', b'"usage"', b'"assistant"'
_LIMIT_MARK_BYTES = LIMIT_MARK.encode()
# Claude Code 2.x marks a limit message so, and words it for people.
_RATE_LIMIT_ERROR = b'"error":"rate_limit"'


# The kinds of log a root holds, numbered as the store keeps them: a Claude
# Code config dir, a logging proxy's log of API requests, a program's own
# log of its calls.
LOG_KINDS = ("claude-code", "proxy", "calls")
KIND_CLAUDE_CODE, KIND_PROXY, KIND_CALLS = range(len(LOG_KINDS))
# The name of the config dirs' source, which a query that knows no sources gives every call.
DEFAULT_SOURCE_NAME = LOG_KINDS[KIND_CLAUDE_CODE]
# What a request log's status says of a request that succeeded.
SUCCESS_WORDS = ("success", "succeeded", "ok", "completed", "complete", "done")
# A latency above this (a week) is damage.
MAX_LATENCY_MS = 7 * 24 * 3600 * 1000


def usage_fields(usage):
    """The usage fields (USAGE_FIELDS but cost) of an API usage object; ValueError for a bad count."""
    cache_write = _count(usage, "cache_creation_input_tokens")
    split = usage.get("cache_creation")
    one_hour = min(_count(split, "ephemeral_1h_input_tokens"), cache_write) if isinstance(split, dict) else 0
    tools = usage.get("server_tool_use")
    return (
        _count(usage, "input_tokens"),
        _count(usage, "output_tokens"),
        cache_write - one_hour,
        one_hour,
        _count(usage, "cache_read_input_tokens"),
        _count(tools, "web_search_requests") if isinstance(tools, dict) else 0,
        1 if usage.get("speed") == "fast" else 0,
        1 if usage.get("inference_geo") == "us" else 0,
    )


class Request:
    """What a request log says of one request beside its usage (for `ccusage models`)."""

    __slots__ = ("key", "ts", "model", "agent", "source_file", "latency_ms", "ok")

    def __init__(self, key, ts, model, agent, source_file, latency_ms, ok):
        self.key, self.ts, self.model, self.agent = key, ts, model, agent
        self.source_file, self.latency_ms, self.ok = source_file, latency_ms, ok

    def row(self):
        return (self.key, self.ts, self.model, self.agent, self.source_file, self.latency_ms, self.ok)


def _text_field(obj, name):
    value = obj.get(name)
    return _storable(value) if isinstance(value, str) and value else None


def _request_ok(status, billed):
    """1 for a request that succeeded, 0 for one that failed, None when the log does not say.

    A status is a word ("success", "error") or an HTTP code; without one a
    request with usage succeeded.
    """
    if status is None:
        return 1 if billed else None
    if isinstance(status, bool):
        return int(status)
    if isinstance(status, int):
        return 1 if 200 <= status < 300 else 0
    if isinstance(status, str):
        word = status.strip().lower()
        code = word.split(" ", 1)[0]
        if code.isdigit():   # "200", "200 OK", "529 Overloaded"
            return 1 if 200 <= int(code) < 300 else 0
        return 1 if word in SUCCESS_WORDS else 0
    return None


def _content_key(obj):
    """A key for a logged call that has no id of its own: a hash of what its line says, whatever its spacing."""
    import hashlib
    import json
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "h:" + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def parse_record(line, kind):
    """([call tuples] or None, Request) of a line of a proxy log or a calls log; ValueError for a line of another
    format.  The calls are the request's and those of the steps its usage.iterations bills beside it.

    A proxy line (kind KIND_PROXY) has the time, the model, the response
    (id, usage) and maybe latency_ms, status, agent and source_file; a
    calls line has the time, the model and the usage, as an object or as
    flat input_tokens / output_tokens, and maybe a uuid or id.  A line
    without usage is a request that billed nothing (a failure, say): it
    must have a status.
    """
    # A byte order mark, as some programs (PowerShell) begin a file with, is no part of the first line's JSON.
    obj = _json_value(line[3:].decode("utf-8") if line.startswith(b"\xef\xbb\xbf") else line.decode("utf-8"))
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    if kind == KIND_PROXY:
        holder = obj.get("response")
        if holder is None:
            holder = {}
        if not isinstance(holder, dict):
            raise ValueError("response of the wrong type")
        ids = (holder.get("id"), obj.get("id"), obj.get("request_id"))
    else:
        holder = obj
        ids = (obj.get("uuid"), obj.get("id"), obj.get("request_id"))
    usage = holder.get("usage")
    if usage is None and kind == KIND_CALLS and ("input_tokens" in obj or "output_tokens" in obj):
        usage = obj
    if usage is not None and not isinstance(usage, dict):
        raise ValueError("usage of the wrong type")
    if usage is None and "status" not in obj:
        raise ValueError("neither usage nor a status")
    model = holder.get("model") or obj.get("model")
    if not isinstance(model, str) or not model:
        raise ValueError("no model")
    ts = _record_time(obj.get("timestamp") or obj.get("time"))
    if ts is None:
        raise ValueError("no valid timestamp")
    key = next((value for value in ids if isinstance(value, str) and value), None)
    key = _storable(key) if key else _content_key(obj)
    model = _storable(model)
    latency = obj.get("latency_ms")
    if type(latency) not in (int, float) or not 0 <= latency < MAX_LATENCY_MS:
        latency = None
    request = Request(key, ts, model, _text_field(obj, "agent"), _text_field(obj, "source_file"),
                      None if latency is None else int(latency), _request_ok(obj.get("status"), usage is not None))
    if usage is None:
        return None, request
    cost = obj.get("cost_usd")
    cost = float(cost) if type(cost) in (int, float) and 0 <= cost < MAX_COST_USD else None
    session = _text_field(obj, "session_id") or _text_field(obj, "sessionId")
    cwd = _text_field(obj, "cwd")
    call = (key, ts, session, cwd, model) + usage_fields(usage) + (cost,)
    return [call] + iteration_calls(call, usage), request


def _record_time(value):
    """Epoch milliseconds of a logged time: ISO 8601, or a number of epoch seconds (or milliseconds)."""
    if type(value) in (int, float):
        ms = value if value >= 1e11 else value * 1000
        return int(ms) if EARLIEST_MS <= ms < LATEST_MS else None
    return parse_timestamp(value)


def record_path_exists(path):
    """Whether a proxy or calls log path names something: a glob pattern, a file or directory there, or a
    log just rotated away (its rotations are there, the new one not yet)."""
    if _GLOB_MAGIC.search(path) or os.path.exists(path):
        return True
    try:
        return bool(_rotations(path))
    except OSError:
        return False


def _rotations(path):
    """The paths beside path that are it or a rotation of it (name.1, name.2.gz, name-20261130), in order;
    OSError when its directory cannot be listed."""
    directory, name = os.path.split(path)
    rotated = re.compile(re.escape(name) + _ROTATION_SUFFIX)
    return [os.path.join(directory, sibling) for sibling in sorted(os.listdir(directory or "."))
            if rotated.match(sibling)]


class RecordReader(LogChunkReader):
    """Reads the lines of a proxy log or a calls log: one JSON object a line, with any spacing.

    Every line is parsed; one that is not of the kind's format is skipped
    and counted.  requests: {key: Request} of the lines read.
    """

    def __init__(self, path, kind):
        super().__init__(path)
        self.kind = kind
        self.requests = {}

    def _scan(self, data, end):
        calls, requests, kind = self.calls, self.requests, self.kind
        for line in data[:end].split(b"\n"):
            if not line.strip():
                continue
            try:
                billed, request = parse_record(line, kind)
            except (ValueError, RecursionError):
                self.skipped += 1
                continue
            requests[request.key] = request
            if billed is not None:
                self.billable_lines += 1
                for call in billed:
                    previous = calls.get(call[C_KEY])
                    calls[call[C_KEY]] = call if previous is None else merge_lines(previous, call)


# A log a proxy or calls root holds, by its name: JSON lines under a usual
# ending, perhaps rotated (api_calls.json.1, app.log-20261130) and compressed.
_RECORD_LOG_NAME = LazyPattern(r".*\.(?:jsonl|json|ndjson|log)(?:[.-]\d+)*(?:\.gz)?$")
_ROTATION_SUFFIX = r"(?:[.-]\d+)*(?:\.gz)?$"
_GLOB_MAGIC = LazyPattern(r"[*?[]")
_ROTATED = LazyPattern(_ROTATION_SUFFIX)


def record_log_stem(path):
    """The name of a proxy or calls log without its rotation and its ending (api_calls.json.2.gz: api_calls):
    the session of its calls that name none, the same before and after the log is rotated."""
    return os.path.splitext(_ROTATED.sub("", os.path.basename(path)))[0]


def find_record_logs(pattern, report):
    """[(path, state)] of the logs a proxy or calls root names, each once.

    pattern is a file (it and its rotations beside it: name.1, name.2.gz,
    name-20261130), a directory (the logs below it, by their names) or a
    glob pattern (its matches, each as a file or a directory).
    """
    import glob
    if _GLOB_MAGIC.search(pattern):
        named = sorted(glob.glob(pattern))
    else:
        named = [pattern]
    found, seen = [], set()

    def add(path):
        try:
            st = os.stat(path)
        except OSError as exc:
            if not isinstance(exc, FileNotFoundError):
                report.add_unreadable(path, exc)
            return
        if _is_regular(st) and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            found.append((path, _file_state(st)))

    for path in named:
        if os.path.isdir(path):
            for top, dirs, files in os.walk(path, onerror=lambda exc: report.add_unreadable(exc.filename, exc)):
                dirs.sort()
                for name in sorted(files):
                    if _RECORD_LOG_NAME.match(name):
                        add(os.path.join(top, name))
            continue
        try:
            rotations = _rotations(path)
        except OSError as exc:
            if not isinstance(exc, FileNotFoundError):
                report.add_unreadable(os.path.dirname(path), exc)
            continue
        for rotation in rotations:
            add(rotation)
    return found


def read_log(job):
    """Read one file's new lines: the unit of work of parallel reading.

    job is (path, offset, tail_len, tail_crc, dev, ino) from the store, or
    (path, None, ...) for a file it has not seen.  Reading resumes at the
    offset only if the same file still holds the same bytes before it; else
    it starts again from the beginning.  Returns (path, state, (start, offset
    now, tail length, tail fingerprint), reader), or (path, None, error, None).
    """
    path, old_offset, tail_len, tail_crc, dev, ino, kind = job
    try:
        with _open_log(path) as f:
            st = os.fstat(f.fileno())
            reader = LogChunkReader(path) if kind == KIND_CLAUDE_CODE else RecordReader(path, kind)
            if path.endswith(".gz"):
                return path, _file_state(st), _read_compressed(f, reader), reader
            start = 0
            if old_offset is not None and (dev, ino) == (st.st_dev, st.st_ino) and old_offset <= st.st_size:
                f.seek(old_offset - tail_len)
                if _crc(f.read(tail_len)) == tail_crc:
                    start = old_offset
            offset = reader.read(f, start)
            tail_len = min(offset, TAIL_BYTES)
            f.seek(offset - tail_len)
            tail_crc = _crc(f.read(tail_len))
    except OSError as exc:
        return path, None, _reason(exc), None
    return path, _file_state(st), (start, offset, tail_len, tail_crc), reader


def _read_compressed(f, reader):
    """Read a gzip-compressed log whole (a rotated one: it no longer grows); its positions for the store.

    A compressed log is read again only when it changes, and then from its
    start: the calls in it that the store has already are recognised by
    their keys.  Damage in the compressed data ends the reading there.
    """
    import gzip
    import zlib
    try:
        with gzip.GzipFile(fileobj=f) as text:
            reader.read(text, 0)
    except (EOFError, gzip.BadGzipFile, zlib.error):
        reader.skipped += 1
    size = os.fstat(f.fileno()).st_size
    return 0, size, 0, 0


def _open_log(path):
    """path opened for reading, if it is a regular file.

    A FIFO put where a log was would block the opening until some writer
    came, and a device may never end: neither is opened for good.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not _is_regular(os.fstat(fd)):
            raise OSError("not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_logs(jobs):
    """read_log of each job: a batch."""
    return [read_log(job) for job in jobs]


# Work is shared out in batches of about this many bytes: one file at a time
# costs more in passing results than it gains in balance.
BATCH_BYTES = 4 * 1024 * 1024
# Batch numbers go through a pipe, all written before anyone reads; this
# many fit in the smallest pipe buffer (macOS: 16 KiB).
MAX_BATCHES = 2048


def _batches(jobs, sizes):
    """jobs in batches of about BATCH_BYTES, the largest files first so that no reader ends on a big one."""
    batch_bytes = max(BATCH_BYTES, sum(sizes.values()) // MAX_BATCHES + 1)
    batches, batch, size = [], [], 0
    for job in sorted(jobs, key=lambda job: -sizes[job[0]]):
        batch.append(job)
        size += sizes[job[0]]
        if size >= batch_bytes:
            batches.append(batch)
            batch, size = [], 0
    if batch:
        batches.append(batch)
    return batches


def reader_processes(new_bytes, files):
    """How many processes to fork to read with beside this one (0: reading here alone is quicker)."""
    if new_bytes < PARALLEL_MIN_BYTES or not hasattr(os, "fork"):
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(0, min(cores, 8, files) - 1)


def read_in_parallel(jobs, sizes, helpers):
    """read_log of every job, shared with `helpers` forked processes; yields the results as they come.

    Every process, this one included, takes the next batch number from a
    shared pipe, so the work balances itself although this process also
    writes the store.  A helper sends each batch's results back through a
    pipe of its own.  Forking is safe with a store connection open: a
    helper never touches it and leaves with os._exit.  It is safe on macOS
    too, where forking a process that uses system frameworks is not: a
    helper only reads files, parses JSON and pickles.
    """
    import pickle  # here, before forking, not once in every helper
    import select
    import signal
    batches = _batches(jobs, sizes)
    work_r, work_w = os.pipe()
    os.write(work_w, b"".join(number.to_bytes(4, "little") for number in range(len(batches))))
    os.close(work_w)
    children = {}
    try:
        for _ in range(helpers):
            pipe = ()
            # Ctrl-C waits until a new helper is inside _helper, where it ends
            # the helper instead of running on as a second copy of this process.
            interrupts = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                pipe = os.pipe()
                _widen_pipe(pipe[1])
                pid = os.fork()
                if pid == 0:
                    _helper(work_r, pipe[1], list(children) + [pipe[0]], batches, pickle.dumps, interrupts)
            except OSError:
                # No process or pipe to spare: those forked already, and this one, read it all.
                for fd in pipe:
                    os.close(fd)
                break
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, interrupts)  # never reached in a helper
            result_r, result_w = pipe
            os.close(result_w)
            children[result_r] = (pid, os.fdopen(result_r, "rb"))
        while True:
            number = os.read(work_r, 4)
            if not number:
                break
            for job in batches[int.from_bytes(number, "little")]:
                yield read_log(job)
                ready = select.select(list(children), [], [], 0)[0] if children else ()
                for fd in ready:
                    yield from _helper_results(children, fd, pickle.loads)
        while children:
            for fd in select.select(list(children), [], [])[0]:
                yield from _helper_results(children, fd, pickle.loads)
    finally:
        os.close(work_r)
        for pid, stream in children.values():
            stream.close()
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _widen_pipe(fd):
    """Let a pipe hold a batch's results, so that a helper need not wait for this process to take them."""
    if sys.platform.startswith("linux"):
        import fcntl
        try:
            fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
        except OSError:
            pass  # the system's limit is lower: the pipe keeps its size


# Linux's default limit for a pipe's size (/proc/sys/fs/pipe-max-size).
PIPE_BYTES = 1024 * 1024


def _helper(work_r, result_w, inherited, batches, dumps, interrupts):
    """A forked reader: reads batches until none are left, sending each one's results as a length and a pickle.

    interrupts: the signal mask to restore, once a Ctrl-C can only end this process.
    """
    import signal
    status = 1
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, interrupts)
        for fd in inherited:
            os.close(fd)
        with os.fdopen(result_w, "wb") as out:
            try:
                while True:
                    number = os.read(work_r, 4)
                    if not number:
                        break
                    results = read_logs(batches[int.from_bytes(number, "little")])
                    data = dumps(results, -1)  # -1: the highest protocol
                    out.write(len(data).to_bytes(8, "little"))
                    out.write(data)
                    out.flush()
                out.write(HELPER_DONE)
                status = 0
            except Exception as exc:
                # The parent says why, in one line.
                reason = f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")
                out.write(HELPER_FAILED + len(reason).to_bytes(8, "little") + reason)
    finally:
        os._exit(status)


# What a helper sends instead of a batch's length: it has read its last
# batch, or it failed (and a reason follows).
HELPER_DONE = (2 ** 64 - 1).to_bytes(8, "little")
HELPER_FAILED = (2 ** 64 - 2).to_bytes(8, "little")


def _helper_results(children, fd, loads):
    """The results of one batch from the helper reading into fd (none when it has finished)."""
    pid, stream = children[fd]
    header = stream.read(8)
    if header == HELPER_DONE:
        del children[fd]
        stream.close()
        os.waitpid(pid, 0)
        return []
    if header == HELPER_FAILED:
        size = int.from_bytes(stream.read(8), "little")
        reason = stream.read(size).decode("utf-8", "replace")
        raise CcusageError(f"a reader process failed ({clean(reason)}); nothing was stored")
    size = int.from_bytes(header, "little") if len(header) == 8 else -1
    data = stream.read(size) if size >= 0 else b""
    if size < 0 or len(data) != size:
        raise CcusageError("a reader process stopped before it finished; nothing was stored, run the command again")
    return loads(data)


def _file_state(st):
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _is_regular(st):
    import stat
    return stat.S_ISREG(st.st_mode)


def _crc(data):
    import zlib
    return zlib.crc32(data)


# ---------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------

# The store's schema, version by version: each text upgrades the version
# before it to its own.  A version's text never changes once released (a test
# keeps each one's checksum), so a change to what the store keeps is a new
# version that migrates, and rebuilds what it must.
SCHEMA = (
    # version 1
    """
    CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE
    );
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES sources(id),
        path TEXT NOT NULL UNIQUE,
        dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER,
        offset INTEGER NOT NULL DEFAULT 0,
        tail_len INTEGER NOT NULL DEFAULT 0,
        tail_crc INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE projects (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        dir TEXT NOT NULL
    );
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL UNIQUE,
        project_id INTEGER NOT NULL REFERENCES projects(id)
    );
    CREATE TABLE models (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    -- sources: the data directories a call was read from, one bit each
    -- (bit id - 1), so that a transcript copied into two of them counts once
    -- in a report of both, and in a report of either.
    CREATE TABLE calls (
        key TEXT PRIMARY KEY,
        ts INTEGER NOT NULL,
        sources INTEGER NOT NULL,
        session_id INTEGER NOT NULL,
        project_id INTEGER NOT NULL,
        model_id INTEGER NOT NULL,
        input INTEGER NOT NULL,
        output INTEGER NOT NULL,
        cache_write_5m INTEGER NOT NULL,
        cache_write_1h INTEGER NOT NULL,
        cache_read INTEGER NOT NULL,
        web_searches INTEGER NOT NULL,
        fast INTEGER NOT NULL,
        us_geo INTEGER NOT NULL,
        cost_usd REAL
    ) WITHOUT ROWID;
    CREATE INDEX calls_by_time ON calls(ts);
    CREATE TABLE hourly (
        hour INTEGER NOT NULL,
        sources INTEGER NOT NULL,
        project_id INTEGER NOT NULL,
        model_id INTEGER NOT NULL,
        fast INTEGER NOT NULL,
        us_geo INTEGER NOT NULL,
        band INTEGER NOT NULL,
        has_cost INTEGER NOT NULL,
        calls INTEGER NOT NULL,
        input INTEGER NOT NULL,
        output INTEGER NOT NULL,
        cache_write_5m INTEGER NOT NULL,
        cache_write_1h INTEGER NOT NULL,
        cache_read INTEGER NOT NULL,
        web_searches INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        PRIMARY KEY (hour, sources, project_id, model_id, fast, us_geo, band, has_cost)) WITHOUT ROWID;
    CREATE TABLE hourly_models (
        hour INTEGER NOT NULL,
        sources INTEGER NOT NULL,
        model_id INTEGER NOT NULL,
        fast INTEGER NOT NULL,
        us_geo INTEGER NOT NULL,
        band INTEGER NOT NULL,
        has_cost INTEGER NOT NULL,
        calls INTEGER NOT NULL,
        input INTEGER NOT NULL,
        output INTEGER NOT NULL,
        cache_write_5m INTEGER NOT NULL,
        cache_write_1h INTEGER NOT NULL,
        cache_read INTEGER NOT NULL,
        web_searches INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        PRIMARY KEY (hour, sources, model_id, fast, us_geo, band, has_cost)) WITHOUT ROWID;
    -- A large ingest pauses the triggers and rebuilds the sums at its end,
    -- within its transaction: several times quicker than call by call.
    CREATE TABLE rollup_paused (paused INTEGER NOT NULL);
    CREATE TRIGGER calls_added AFTER INSERT ON calls
    WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO hourly (hour, sources, project_id, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (new.ts / 3600000, new.sources, new.project_id, new.model_id, new.fast, new.us_geo, (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 100000) + (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 200000), new.cost_usd IS NOT NULL, +1, +new.input, +new.output, +new.cache_write_5m, +new.cache_write_1h, +new.cache_read, +new.web_searches, +ifnull(new.cost_usd, 0))
      ON CONFLICT (hour, sources, project_id, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    INSERT INTO hourly_models (hour, sources, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (new.ts / 3600000, new.sources, new.model_id, new.fast, new.us_geo, (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 100000) + (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 200000), new.cost_usd IS NOT NULL, +1, +new.input, +new.output, +new.cache_write_5m, +new.cache_write_1h, +new.cache_read, +new.web_searches, +ifnull(new.cost_usd, 0))
      ON CONFLICT (hour, sources, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    END;
    CREATE TRIGGER calls_changed AFTER UPDATE ON calls
    WHEN NOT EXISTS (SELECT 1 FROM rollup_paused) BEGIN
    INSERT INTO hourly (hour, sources, project_id, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (old.ts / 3600000, old.sources, old.project_id, old.model_id, old.fast, old.us_geo, (old.input + old.cache_write_5m + old.cache_write_1h + old.cache_read > 100000) + (old.input + old.cache_write_5m + old.cache_write_1h + old.cache_read > 200000), old.cost_usd IS NOT NULL, -1, -old.input, -old.output, -old.cache_write_5m, -old.cache_write_1h, -old.cache_read, -old.web_searches, -ifnull(old.cost_usd, 0))
      ON CONFLICT (hour, sources, project_id, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    INSERT INTO hourly (hour, sources, project_id, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (new.ts / 3600000, new.sources, new.project_id, new.model_id, new.fast, new.us_geo, (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 100000) + (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 200000), new.cost_usd IS NOT NULL, +1, +new.input, +new.output, +new.cache_write_5m, +new.cache_write_1h, +new.cache_read, +new.web_searches, +ifnull(new.cost_usd, 0))
      ON CONFLICT (hour, sources, project_id, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    INSERT INTO hourly_models (hour, sources, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (old.ts / 3600000, old.sources, old.model_id, old.fast, old.us_geo, (old.input + old.cache_write_5m + old.cache_write_1h + old.cache_read > 100000) + (old.input + old.cache_write_5m + old.cache_write_1h + old.cache_read > 200000), old.cost_usd IS NOT NULL, -1, -old.input, -old.output, -old.cache_write_5m, -old.cache_write_1h, -old.cache_read, -old.web_searches, -ifnull(old.cost_usd, 0))
      ON CONFLICT (hour, sources, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    INSERT INTO hourly_models (hour, sources, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (new.ts / 3600000, new.sources, new.model_id, new.fast, new.us_geo, (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 100000) + (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 200000), new.cost_usd IS NOT NULL, +1, +new.input, +new.output, +new.cache_write_5m, +new.cache_write_1h, +new.cache_read, +new.web_searches, +ifnull(new.cost_usd, 0))
      ON CONFLICT (hour, sources, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    END;
    -- "Claude AI usage limit reached|<reset_at>" lines: when a plan limit was hit.
    CREATE TABLE limit_resets (
        ts INTEGER NOT NULL,
        reset_at INTEGER NOT NULL,
        source_id INTEGER NOT NULL,
        PRIMARY KEY (ts, reset_at, source_id)
    ) WITHOUT ROWID;
    -- The official rate limits Claude Code hands its status line, as captured.
    CREATE TABLE rate_limits (
        window TEXT NOT NULL,
        captured_at INTEGER NOT NULL,
        used_percentage REAL NOT NULL,
        resets_at INTEGER NOT NULL,
        PRIMARY KEY (window, captured_at)
    ) WITHOUT ROWID;
    """,
    # version 2
    """
    DROP TRIGGER calls_added;
    DROP TRIGGER calls_changed;
    DROP TABLE rollup_paused;
    CREATE TRIGGER calls_added AFTER INSERT ON calls BEGIN
    INSERT INTO hourly (hour, sources, project_id, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (new.ts / 3600000, new.sources, new.project_id, new.model_id, new.fast, new.us_geo, (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 100000) + (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 200000), new.cost_usd IS NOT NULL, +1, +new.input, +new.output, +new.cache_write_5m, +new.cache_write_1h, +new.cache_read, +new.web_searches, +ifnull(new.cost_usd, 0))
      ON CONFLICT (hour, sources, project_id, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    INSERT INTO hourly_models (hour, sources, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (new.ts / 3600000, new.sources, new.model_id, new.fast, new.us_geo, (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 100000) + (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 200000), new.cost_usd IS NOT NULL, +1, +new.input, +new.output, +new.cache_write_5m, +new.cache_write_1h, +new.cache_read, +new.web_searches, +ifnull(new.cost_usd, 0))
      ON CONFLICT (hour, sources, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    END;
    CREATE TRIGGER calls_changed AFTER UPDATE ON calls BEGIN
    INSERT INTO hourly (hour, sources, project_id, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (old.ts / 3600000, old.sources, old.project_id, old.model_id, old.fast, old.us_geo, (old.input + old.cache_write_5m + old.cache_write_1h + old.cache_read > 100000) + (old.input + old.cache_write_5m + old.cache_write_1h + old.cache_read > 200000), old.cost_usd IS NOT NULL, -1, -old.input, -old.output, -old.cache_write_5m, -old.cache_write_1h, -old.cache_read, -old.web_searches, -ifnull(old.cost_usd, 0))
      ON CONFLICT (hour, sources, project_id, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    INSERT INTO hourly (hour, sources, project_id, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (new.ts / 3600000, new.sources, new.project_id, new.model_id, new.fast, new.us_geo, (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 100000) + (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 200000), new.cost_usd IS NOT NULL, +1, +new.input, +new.output, +new.cache_write_5m, +new.cache_write_1h, +new.cache_read, +new.web_searches, +ifnull(new.cost_usd, 0))
      ON CONFLICT (hour, sources, project_id, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    INSERT INTO hourly_models (hour, sources, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (old.ts / 3600000, old.sources, old.model_id, old.fast, old.us_geo, (old.input + old.cache_write_5m + old.cache_write_1h + old.cache_read > 100000) + (old.input + old.cache_write_5m + old.cache_write_1h + old.cache_read > 200000), old.cost_usd IS NOT NULL, -1, -old.input, -old.output, -old.cache_write_5m, -old.cache_write_1h, -old.cache_read, -old.web_searches, -ifnull(old.cost_usd, 0))
      ON CONFLICT (hour, sources, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    INSERT INTO hourly_models (hour, sources, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (new.ts / 3600000, new.sources, new.model_id, new.fast, new.us_geo, (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 100000) + (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 200000), new.cost_usd IS NOT NULL, +1, +new.input, +new.output, +new.cache_write_5m, +new.cache_write_1h, +new.cache_read, +new.web_searches, +ifnull(new.cost_usd, 0))
      ON CONFLICT (hour, sources, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    END;

    -- Counts the ingests that wrote anything: a cached report holds for one generation.
    CREATE TABLE generation (value INTEGER NOT NULL);
    INSERT INTO generation VALUES (0);
    -- A digest of the states of the logs found below a source, when every
    -- one had been read: while a run finds the same, nothing there is new.
    ALTER TABLE sources ADD COLUMN walk_digest INTEGER;
    -- The rows of a report's query (JSON), as computed in a generation of the store.
    CREATE TABLE report_cache (
        query TEXT PRIMARY KEY,
        generation INTEGER NOT NULL,
        rows TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # version 3
    """
    -- Names that say what they are: the data directories (and later other log
    -- locations) are roots, a call's bits say which roots it was read from.
    DROP TRIGGER calls_added;
    DROP TRIGGER calls_changed;
    ALTER TABLE sources RENAME TO roots;
    ALTER TABLE files RENAME COLUMN source_id TO root_id;
    ALTER TABLE limit_resets RENAME COLUMN source_id TO root_id;
    ALTER TABLE calls RENAME COLUMN sources TO roots;
    ALTER TABLE hourly RENAME COLUMN sources TO roots;
    ALTER TABLE hourly_models RENAME COLUMN sources TO roots;
    -- The kind of log a call was read from: 0 is a Claude Code transcript.
    ALTER TABLE calls ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
    -- Paths are the bytes the system names them by, which need not be UTF-8.
    UPDATE roots SET path = CAST(path AS BLOB);
    UPDATE files SET path = CAST(path AS BLOB);
    -- When a walk last found every log below a root read (time_ns), and the
    -- time of each log's newest call: until a minute after such a walk,
    -- quick commands look only at the logs with calls of the last day (and
    -- at directories changed since).
    ALTER TABLE roots ADD COLUMN full_walk_ns INTEGER;
    ALTER TABLE files ADD COLUMN last_call INTEGER;
    CREATE INDEX files_by_last_call ON files(root_id, last_call);
    CREATE TRIGGER calls_added AFTER INSERT ON calls BEGIN
    INSERT INTO hourly (hour, roots, project_id, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (new.ts / 3600000, new.roots, new.project_id, new.model_id, new.fast, new.us_geo, (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 100000) + (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 200000), new.cost_usd IS NOT NULL, +1, +new.input, +new.output, +new.cache_write_5m, +new.cache_write_1h, +new.cache_read, +new.web_searches, +ifnull(new.cost_usd, 0))
      ON CONFLICT (hour, roots, project_id, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    INSERT INTO hourly_models (hour, roots, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (new.ts / 3600000, new.roots, new.model_id, new.fast, new.us_geo, (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 100000) + (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 200000), new.cost_usd IS NOT NULL, +1, +new.input, +new.output, +new.cache_write_5m, +new.cache_write_1h, +new.cache_read, +new.web_searches, +ifnull(new.cost_usd, 0))
      ON CONFLICT (hour, roots, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    END;
    CREATE TRIGGER calls_changed AFTER UPDATE ON calls BEGIN
    INSERT INTO hourly (hour, roots, project_id, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (old.ts / 3600000, old.roots, old.project_id, old.model_id, old.fast, old.us_geo, (old.input + old.cache_write_5m + old.cache_write_1h + old.cache_read > 100000) + (old.input + old.cache_write_5m + old.cache_write_1h + old.cache_read > 200000), old.cost_usd IS NOT NULL, -1, -old.input, -old.output, -old.cache_write_5m, -old.cache_write_1h, -old.cache_read, -old.web_searches, -ifnull(old.cost_usd, 0))
      ON CONFLICT (hour, roots, project_id, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    INSERT INTO hourly (hour, roots, project_id, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (new.ts / 3600000, new.roots, new.project_id, new.model_id, new.fast, new.us_geo, (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 100000) + (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 200000), new.cost_usd IS NOT NULL, +1, +new.input, +new.output, +new.cache_write_5m, +new.cache_write_1h, +new.cache_read, +new.web_searches, +ifnull(new.cost_usd, 0))
      ON CONFLICT (hour, roots, project_id, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    INSERT INTO hourly_models (hour, roots, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (old.ts / 3600000, old.roots, old.model_id, old.fast, old.us_geo, (old.input + old.cache_write_5m + old.cache_write_1h + old.cache_read > 100000) + (old.input + old.cache_write_5m + old.cache_write_1h + old.cache_read > 200000), old.cost_usd IS NOT NULL, -1, -old.input, -old.output, -old.cache_write_5m, -old.cache_write_1h, -old.cache_read, -old.web_searches, -ifnull(old.cost_usd, 0))
      ON CONFLICT (hour, roots, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    INSERT INTO hourly_models (hour, roots, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (new.ts / 3600000, new.roots, new.model_id, new.fast, new.us_geo, (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 100000) + (new.input + new.cache_write_5m + new.cache_write_1h + new.cache_read > 200000), new.cost_usd IS NOT NULL, +1, +new.input, +new.output, +new.cache_write_5m, +new.cache_write_1h, +new.cache_read, +new.web_searches, +ifnull(new.cost_usd, 0))
      ON CONFLICT (hour, roots, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    END;
    CREATE TRIGGER calls_removed AFTER DELETE ON calls BEGIN
    INSERT INTO hourly (hour, roots, project_id, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (old.ts / 3600000, old.roots, old.project_id, old.model_id, old.fast, old.us_geo, (old.input + old.cache_write_5m + old.cache_write_1h + old.cache_read > 100000) + (old.input + old.cache_write_5m + old.cache_write_1h + old.cache_read > 200000), old.cost_usd IS NOT NULL, -1, -old.input, -old.output, -old.cache_write_5m, -old.cache_write_1h, -old.cache_read, -old.web_searches, -ifnull(old.cost_usd, 0))
      ON CONFLICT (hour, roots, project_id, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    INSERT INTO hourly_models (hour, roots, model_id, fast, us_geo, band, has_cost, calls, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd)
      VALUES (old.ts / 3600000, old.roots, old.model_id, old.fast, old.us_geo, (old.input + old.cache_write_5m + old.cache_write_1h + old.cache_read > 100000) + (old.input + old.cache_write_5m + old.cache_write_1h + old.cache_read > 200000), old.cost_usd IS NOT NULL, -1, -old.input, -old.output, -old.cache_write_5m, -old.cache_write_1h, -old.cache_read, -old.web_searches, -ifnull(old.cost_usd, 0))
      ON CONFLICT (hour, roots, model_id, fast, us_geo, band, has_cost)
      DO UPDATE SET calls = calls + excluded.calls, input = input + excluded.input, output = output + excluded.output, cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h, cache_read = cache_read + excluded.cache_read, web_searches = web_searches + excluded.web_searches, cost_usd = cost_usd + excluded.cost_usd;
    END;
    -- 5-hour windows (--session-length ones), as the calls of a set of roots
    -- (roots: their bits) make them.  Every window but the last is final:
    -- only the calls from the last one on are gone through again.
    CREATE TABLE windows (
        roots INTEGER NOT NULL,
        length_ms INTEGER NOT NULL,
        first INTEGER NOT NULL,
        start INTEGER NOT NULL,
        last INTEGER NOT NULL,
        reset_at INTEGER,
        limit_hit INTEGER NOT NULL,
        calls INTEGER NOT NULL,
        tokens INTEGER NOT NULL,
        PRIMARY KEY (roots, length_ms, first)
    ) WITHOUT ROWID;
    -- The generation a set of roots' windows were kept in, and the earliest
    -- time of a call or limit message written since: from there they are
    -- computed again.
    CREATE TABLE window_state (
        roots INTEGER NOT NULL,
        length_ms INTEGER NOT NULL,
        generation INTEGER NOT NULL,
        changed_from INTEGER,
        PRIMARY KEY (roots, length_ms)
    ) WITHOUT ROWID;
    -- The process reading logs into the store, while it does (its heartbeat
    -- goes stale if it dies).  bulk: it dropped the rollup triggers and the
    -- index by time, whose SQL is in dropped, to rebuild them at its end.
    CREATE TABLE ingest_claim (
        owner TEXT NOT NULL,
        heartbeat INTEGER NOT NULL,
        bulk INTEGER NOT NULL,
        dropped TEXT NOT NULL
    );
    -- The state each budget last alerted of (check --notify, --desktop), so
    -- that a check run every minute alerts once per change.
    CREATE TABLE budget_alerts (
        budget TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        alerted_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- The dollars of a status line's spend limit (its percentage is in
    -- rate_limits, as the window spend_limit).
    CREATE TABLE spend_limits (
        captured_at INTEGER PRIMARY KEY,
        used_usd REAL,
        limit_usd REAL,
        period TEXT
    ) WITHOUT ROWID;
    -- Read every log again: the limit messages of Claude Code 2.x, which
    -- earlier versions passed over, are found in those still on disk (a
    -- call read twice counts once).
    UPDATE files SET offset = 0, tail_len = 0, tail_crc = 0, skipped = 0, size = NULL, mtime_ns = NULL;
    UPDATE roots SET walk_digest = NULL, full_walk_ns = NULL;
    DELETE FROM report_cache;
    """,
    # version 4
    """
    -- Roots of other kinds than a Claude Code config dir: 1 a logging
    -- proxy's log, 2 a program's own log of its calls (each a file, a
    -- directory or a glob pattern).
    ALTER TABLE roots ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
    -- What the logs that record them say of each request, billed or not:
    -- how long it took, whether it succeeded, which agent made it from
    -- which file.  key is the call's when it billed; roots are the bits of
    -- the roots it was read from.
    CREATE TABLE requests (
        key TEXT PRIMARY KEY,
        ts INTEGER NOT NULL,
        roots INTEGER NOT NULL,
        model_id INTEGER NOT NULL,
        agent TEXT,
        source_file TEXT,
        latency_ms INTEGER,
        ok INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX requests_by_time ON requests(ts);
    -- `models` sums the requests per model, agent and latency: in this
    -- index's order, without sorting them.
    CREATE INDEX requests_by_model ON requests(model_id, agent, latency_ms, roots, ok, ts);
    """,
)
# The store's mark, "ccus": a file with another, or with tables but no mark
# and no schema version, is not a store of ours and is never written.
APPLICATION_ID = 0x63637573

# The rollups from the calls, as a bulk ingest rebuilds them at its end: by
# project, then across projects from that.  Each call is added to its
# hour's row as the calls are scanned (a fifth quicker at 1 GB of logs than
# sorting them all to group them); "WHERE true" tells SQLite that ON
# CONFLICT is the upsert's, not a join's.
_SUMMED = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read", "web_searches", "cost_usd")
REBUILD_ROLLUPS = (
    "DELETE FROM hourly",
    "INSERT INTO hourly (hour, roots, project_id, model_id, fast, us_geo, band, has_cost, calls, input, output, "
    "cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd) "
    "SELECT ts / 3600000, roots, project_id, model_id, fast, us_geo, "
    "(input + cache_write_5m + cache_write_1h + cache_read > 100000) "
    "+ (input + cache_write_5m + cache_write_1h + cache_read > 200000), cost_usd IS NOT NULL, 1, "
    "input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, ifnull(cost_usd, 0) FROM calls "
    "WHERE true ON CONFLICT (hour, roots, project_id, model_id, fast, us_geo, band, has_cost) DO UPDATE SET "
    "calls = calls + 1, " + ", ".join(f"{column} = {column} + excluded.{column}" for column in _SUMMED),
    "DELETE FROM hourly_models",
    "INSERT INTO hourly_models (hour, roots, model_id, fast, us_geo, band, has_cost, calls, input, output, "
    "cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd) "
    "SELECT hour, roots, model_id, fast, us_geo, band, has_cost, sum(calls), sum(input), sum(output), "
    "sum(cache_write_5m), sum(cache_write_1h), sum(cache_read), sum(web_searches), sum(cost_usd) "
    "FROM hourly GROUP BY 1, 2, 3, 4, 5, 6, 7",
)
# A call as the store keeps it: the reader's usage fields as they are, the
# names as ids, and the bits of the roots it was read from.
STORED_CALL_COLUMNS = ("key", "ts", "roots", "session_id", "project_id", "model_id") + USAGE_FIELDS
# One response may be written as several lines (and copied into progress
# lines): the line with the most output tokens carries its final usage (on a
# tie the later one), the earliest line its time.
UPSERT_CALL = (
    f"INSERT INTO calls ({', '.join(STORED_CALL_COLUMNS)}) VALUES ({', '.join('?' * len(STORED_CALL_COLUMNS))}) "
    "ON CONFLICT(key) DO UPDATE SET ts = min(ts, excluded.ts), roots = roots | excluded.roots, "
    + ", ".join(f"{c} = CASE WHEN excluded.output >= output THEN excluded.{c} ELSE {c} END"
                for c in STORED_CALL_COLUMNS[3:] if c != "output")
    + ", output = max(output, excluded.output)"
)
UPSERT_REQUEST = (
    "INSERT INTO requests (key, ts, roots, model_id, agent, source_file, latency_ms, ok) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET roots = roots | excluded.roots, "
    "ts = min(ts, excluded.ts), agent = coalesce(excluded.agent, agent), "
    "source_file = coalesce(excluded.source_file, source_file), "
    "latency_ms = coalesce(excluded.latency_ms, latency_ms), ok = coalesce(excluded.ok, ok)"
)
RECORD_FILE = (
    "INSERT INTO files (path, root_id, dev, ino, size, mtime_ns, offset, tail_len, tail_crc, skipped, last_call) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET root_id = excluded.root_id, "
    "dev = excluded.dev, ino = excluded.ino, size = excluded.size, mtime_ns = excluded.mtime_ns, "
    "offset = excluded.offset, tail_len = excluded.tail_len, tail_crc = excluded.tail_crc, skipped = excluded.skipped, "
    "last_call = coalesce(max(files.last_call, excluded.last_call), files.last_call, excluded.last_call)"
)
FILE_COLUMNS = "path, offset, tail_len, tail_crc, dev, ino, size, mtime_ns, id, skipped"
# A call's roots are bits of a 64-bit integer.
MAX_ROOTS = 62
# Below this many new bytes, forking helpers to read costs more than it saves.
PARALLEL_MIN_BYTES = 16 * 1024 * 1024
# A bulk ingest (rollups rebuilt at the end) starts at this many new bytes,
# if they are at least as many as the store has read before: rebuilding
# sums all of history, so a small addition to a long one is kept call by call.
BULK_MIN_BYTES = 16 * 1024 * 1024
# A log larger than this is no transcript (the largest seen are a few
# hundred MB), and one larger than SPARSE_CHECK_BYTES that is mostly holes
# is a sparse file of NULs: both are passed over, not read.
MAX_LOG_BYTES = 4 * 2 ** 30
SPARSE_CHECK_BYTES = 64 * 2 ** 20
# How long a caller that must not wait (a prompt) waits for the write lock.
NO_WAIT_MS = 20
# A claim to be reading logs whose heartbeat is older than this is a dead
# process's (a live one beats at every batch it writes).
CLAIM_STALE_MS = 30_000
# How long after a walk that found every log read quick commands may look
# only at the logs written lately (and at directories changed since).
QUICK_WALK_FOR_NS = 60 * 10 ** 9
# A log is "written lately" if its newest call is this recent.
RECENT_LOG_MS = 24 * 3600 * 1000


def default_db_path(environ):
    data_home = environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(_expand(data_home), "ccusage", "usage.db")


def _reason(exc):
    """A one-line reason for an OS or parse error."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


# What SQLite raises on a damaged file (text it stored comes back undecodable).
STORE_DAMAGE = (sqlite3.DatabaseError, UnicodeDecodeError)


def _is_corruption(exc):
    return isinstance(exc, STORE_DAMAGE) and not isinstance(exc, sqlite3.OperationalError)


def _is_busy(exc):
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _now_ms():
    return int(time.time() * 1000)


class Store:
    """The SQLite record of every call ever read, safe to share between processes.

    messages: where warnings go (see Messages).  A store that is damaged
    when opened or synced is set aside and built again from the logs.
    """

    def __init__(self, path, messages):
        self.path = path
        self.messages = messages
        self.conn = None
        self.identity = None
        self.readonly = False
        self.owner = f"{os.uname().nodename}:{os.getpid()}:{os.urandom(4).hex()}"
        # path -> state of every log this process has synced: a live loop
        # looks up only the logs that changed since its last round.
        self.known = {}
        self._open()

    def _connect(self):
        directory = os.path.dirname(self.path)
        if os.path.islink(self.path) and not os.path.exists(self.path):
            raise CcusageError(f"the store {self.path} is a link to nothing; remove the link, "
                               "or name another store with --db")
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            if not os.path.exists(self.path):
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self.readonly = not os.access(self.path, os.W_OK)
            if self.readonly:
                from urllib.parse import quote
                conn = sqlite3.connect(f"file:{quote(self.path)}?mode=ro", uri=True, isolation_level=None,
                                       timeout=BUSY_TIMEOUT_MS / 1000)
            else:
                self._make_companions_writable()
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            st = os.stat(self.path)
        except (OSError, sqlite3.Error) as exc:
            raise CcusageError(f"cannot open the store {self.path}: {_reason(exc)}")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.identity = (st.st_dev, st.st_ino)
        return conn

    def _make_companions_writable(self):
        """Give the store's -wal and -shm files back the write permission the store has.

        SQLite makes them with the store's mode: a store made read-only
        once leaves them read-only after the store itself is writable again.
        """
        mode = os.stat(self.path).st_mode & 0o666
        for suffix in ("-wal", "-shm"):
            companion = self.path + suffix
            if os.path.exists(companion) and not os.access(companion, os.W_OK):
                try:
                    os.chmod(companion, mode)
                except OSError:
                    raise CcusageError(f"{companion} is not writable, though the store {self.path} is: "
                                       f"make it writable (chmod u+w {companion}), or remove it while no "
                                       "ccusage runs")

    def _open(self):
        for attempt in (1, 2):
            conn = self._connect()
            try:
                self._prepare(conn)
            except STORE_DAMAGE as exc:
                conn.close()
                if attempt == 2 or not _is_corruption(exc):
                    raise CcusageError(f"cannot use the store {self.path}: {exc}")
                move_store_aside(self.path, exc, self.messages)
                continue
            self.conn = conn
            return

    def _prepare(self, conn):
        # In one statement: another process creating the store may commit between two.
        version, mark, tables = conn.execute(
            "SELECT (SELECT user_version FROM pragma_user_version), (SELECT application_id FROM pragma_application_id), "
            "(SELECT count(*) FROM sqlite_master)").fetchone()
        if mark not in (0, APPLICATION_ID) or (version == 0 and tables):
            raise CcusageError(f"{self.path} is an SQLite database of another program, not a ccusage store; "
                               "name another with --db")
        if self.readonly:
            if version != len(SCHEMA) or mark != APPLICATION_ID:
                raise CcusageError(f"the store {self.path} is read-only and of an older ccusage: make it writable "
                                   f"(chmod u+w {self.path}) so that it can be upgraded")
            return
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -65536")
        # WAL is kept in the file: a store of this version was switched to it when it was made.
        if version == len(SCHEMA) and mark == APPLICATION_ID:
            return
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        if version > len(SCHEMA):
            raise CcusageError(f"the store {self.path} was written by a newer ccusage "
                               f"(schema {version}); upgrade ccusage or use --db")
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number in range(version, len(SCHEMA)):
                for statement in _statements(SCHEMA[number]):
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {len(SCHEMA)}")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def reopen_if_replaced(self):
        """Open the store again if another process set it aside and built a new one (a long run sees it)."""
        try:
            st = os.stat(self.path)
            same = (st.st_dev, st.st_ino) == self.identity
        except OSError:
            same = False
        if not same:
            self.close()
            self.known = {}
            self._open()
        return not same

    # -- ingest --

    def root_ids(self, paths, kinds=None):
        """Ids of the given root paths, registering new ones (kinds: {path: kind} of those not of Claude Code)."""
        ids = {}
        kinds = kinds or {}
        for path in paths:
            key = os.fsencode(path)
            kind = kinds.get(path, KIND_CLAUDE_CODE)
            row = self.conn.execute("SELECT id, kind FROM roots WHERE path = ?", (key,)).fetchone()
            if row is None and self.readonly:
                continue   # a store that cannot be written has no calls of a root it never saw
            if row is None:
                if self.conn.execute("SELECT count(*) FROM roots").fetchone()[0] >= MAX_ROOTS:
                    raise CcusageError(f"the store {self.path} has seen {MAX_ROOTS} data directories and logs, "
                                       "as many as it can tell apart; use another store for more (--db)")
                self.conn.execute("INSERT OR IGNORE INTO roots (path, kind) VALUES (?, ?)", (key, kind))
                row = self.conn.execute("SELECT id, kind FROM roots WHERE path = ?", (key,)).fetchone()
            if row[1] != kind and not self.readonly:
                # The same path named as another kind: its logs are read as that kind from now on.
                self.conn.execute("UPDATE roots SET kind = ?, walk_digest = NULL WHERE id = ?", (kind, row[0]))
                self.conn.execute("UPDATE files SET offset = 0, tail_len = 0, tail_crc = 0, size = NULL "
                                  "WHERE root_id = ?", (row[0],))
            ids[path] = row[0]
        return ids

    def sync(self, roots, report, paths=None, wait=True, parallel=True, budget=None, quick=False, kinds=None):
        """Read what is new in the logs below roots into the store; report says what was done.

        kinds: {root: kind} of the roots that are not Claude Code config dirs.

        paths: read only these logs (each below one of roots), not the whole
        walk.  wait=False: never wait on another process (its reading or its
        write lock) for more than a few milliseconds; then report.busy is set
        and the store answers with what it holds.  budget: seconds to read
        for, after which what was read is kept and report.complete is unset.
        quick: while a walk found every log read less than a minute ago, look
        only at the logs written lately and the directories changed since.
        parallel: fork helpers to read a large amount.

        Logs are opened and read outside any write transaction: the write
        lock is held only while rows are written, a batch at a time.
        """
        self.reopen_if_replaced()
        if self.readonly:
            report.readonly = True
            return
        kinds = kinds or {}
        try:
            ids = self.root_ids(roots, kinds)
        except sqlite3.OperationalError as exc:
            if wait or not _is_busy(exc):
                raise
            report.busy = True
            return
        deadline = None if budget is None else time.monotonic() + budget
        walk_ns = time.time_ns()
        digests = {}
        if paths is not None:
            on_disk = self._named_logs(roots, ids, paths, report)
        else:
            on_disk = {}
            full = {root_id: ns for root_id, ns in self.conn.execute(
                f"SELECT id, full_walk_ns FROM roots WHERE id IN ({','.join('?' * len(ids))})", list(ids.values()))}
            listings = None
            walks = []
            for root, root_id in ids.items():
                since = full.get(root_id)
                if root in kinds:
                    found = find_record_logs(root, report)
                    digests[root_id] = walk_digest(found)
                elif quick and since is not None and 0 <= walk_ns - since < QUICK_WALK_FOR_NS:
                    found = self._recent_logs(root, root_id, since, walk_ns, report)
                else:
                    listings = listings or Listings(self.path + ".walk")
                    found = find_logs(root, report, listings=listings)
                    digests[root_id] = walk_digest(found)
                walks.append((root_id, found))
            if listings is not None:
                listings.save()
            if digests and len(digests) == len(ids) and self._walks_unchanged(digests):
                # One walk lists a path once: only several roots' need the paths counted.
                report.files = len(walks[0][1]) if len(walks) == 1 else len({p for _, f in walks for p, _ in f})
                # Noted again only when the last note is half as old as quick walks may trust it.
                if any(full[root_id] is None or not 0 <= walk_ns - full[root_id] < QUICK_WALK_FOR_NS // 2
                       for root_id in digests):
                    self._note_walks(digests, walk_ns)
                return
            for root_id, found in walks:
                for path, state in found:
                    on_disk[path] = (root_id, state)
            report.files = len(on_disk)
        changed = self._changed(on_disk)
        if kinds:
            changed += self._read_as_another_kind(on_disk, {ids[root] for root in kinds if root in ids},
                                                  {path for path, _ in changed})
        if not changed:
            if digests:
                self._note_walks(digests, walk_ns)
            return
        unread = _unread(on_disk, changed)
        new_bytes = sum(unread.values())
        bulk = budget is None and paths is None and new_bytes >= BULK_MIN_BYTES and \
            new_bytes >= self.conn.execute("SELECT total(offset) FROM files").fetchone()[0]
        claim = self._claim(wait, bulk)
        if claim is None:
            report.busy = True
            return
        helpers, results = 0, ()
        try:
            # Another process may have read the same logs while this one waited.
            changed = self._changed(on_disk, [path for path, _ in changed])
            if kinds:
                changed += self._read_as_another_kind(on_disk, {ids[root] for root in kinds if root in ids},
                                                      {path for path, _ in changed})
            ingest = Ingest(self, claim)
            kind_of = {ids[root]: kind for root, kind in kinds.items()}
            changed = self._pass_over_unlikely_logs(changed, on_disk, ingest, kind_of)
            if kinds:
                changed = self._follow_rotations(changed, on_disk, ids, kinds)
            rows = dict(changed)
            unread = _unread(on_disk, changed)
            jobs = [(path,) + (row[1:6] if row else (None, 0, 0, 0, 0)) + (kind_of.get(on_disk[path][0], 0),)
                    for path, row in changed]
            helpers = reader_processes(sum(unread.values()), len(jobs)) if parallel and deadline is None else 0
            results = read_in_parallel(jobs, unread, helpers) if helpers else map(read_log, jobs)
            for done, (path, state, positions, reader) in enumerate(results, 1):
                root_id = on_disk[path][0]
                if state is None:
                    report.add_unreadable(path, positions)
                    # Its state would not change when it becomes readable: the walk must not seem done.
                    digests[root_id] = None
                    continue
                report.files_read += 1
                report.bytes_read += reader.bytes_read
                report.calls_seen += reader.billable_lines
                ingest.add(root_id, path, reader, self._file_record(path, root_id, state, positions, reader, rows[path]))
                self.known[path] = state
                if deadline is not None and time.monotonic() > deadline and done < len(jobs):
                    report.complete = False
                    digests = {}
                    break
            ingest.finish(digests, walk_ns)
        finally:
            if helpers:
                results.close()
            self._release(claim)

    def _pass_over_unlikely_logs(self, changed, on_disk, ingest, kind_of):
        """changed without the logs no transcript could be: too large, or mostly holes (a sparse file of NULs).

        Each is recorded as read to its end with one skipped line, so that
        it costs nothing until it changes again, and named in a note as what
        its root's kind (kind_of: {root id: kind}, but for config dirs) says
        it is not.
        """
        kept = []
        for path, row in changed:
            root_id, state = on_disk[path]
            size = state[2]
            reason = None
            if size > MAX_LOG_BYTES:
                reason = f"larger than {MAX_LOG_BYTES // 2 ** 30} GiB"
            elif size > SPARSE_CHECK_BYTES:
                try:
                    if os.stat(path).st_blocks * 512 < size // 2:
                        reason = "mostly holes (NUL bytes)"
                except (OSError, AttributeError):
                    pass
            if reason is None:
                kept.append((path, row))
                continue
            kind = kind_of.get(root_id, KIND_CLAUDE_CODE)
            what = "Claude Code transcript" if kind == KIND_CLAUDE_CODE else f"{LOG_KINDS[kind]} log"
            self.messages.note(f"passed over {path}: {reason}, not a {what}")
            ingest.files.append((os.fsencode(path), root_id) + state + (size, 0, 0, (row[9] if row else 0) + 1,
                                                                         None))
        return kept

    def _read_as_another_kind(self, on_disk, kind_ids, changed):
        """[(path, None)] of the logs of kind_ids that the store read as another root's (and so as another
        kind: a program's log kept among the transcripts, say): they are read again, as this root's kind."""
        paths = [path for path, (root_id, _) in on_disk.items() if root_id in kind_ids and path not in changed]
        again = []
        for path in paths:
            row = self.conn.execute("SELECT root_id FROM files WHERE path = ?", (os.fsencode(path),)).fetchone()
            if row is not None and row[0] != on_disk[path][0]:
                again.append((path, None))
        return again

    def _follow_rotations(self, changed, on_disk, ids, kinds):
        """changed, with a log first seen under a new name read on from where it was read under its old one.

        Rotating a log renames it (api_calls.json becomes api_calls.json.1)
        and starts a new one: the renamed file is the same file, read up to
        the offset the store keeps for its old name.  A name the store knows
        may hold another file now (api_calls.json.1 becomes .2, and the log
        becomes .1): that file too is looked for under its old name.
        """
        roots = {ids[root] for root in kinds}
        followed = []
        for path, row in changed:
            root_id, state = on_disk[path]
            if root_id in roots and (row is None or (row[4], row[5]) != state[:2]):
                moved = self.conn.execute(
                    f"SELECT {FILE_COLUMNS} FROM files WHERE root_id = ? AND dev = ? AND ino = ? AND path != ? "
                    "ORDER BY offset DESC",
                    (root_id, state[0], state[1], os.fsencode(path))).fetchone()
                if moved is not None:
                    # The lines it skipped under its old name go with it.
                    row = moved[:6] + (None, None, None, moved[9])
            followed.append((path, row))
        return followed

    def _walks_unchanged(self, digests):
        marks = ",".join("?" * len(digests))
        stored = dict(self.conn.execute(f"SELECT id, walk_digest FROM roots WHERE id IN ({marks})", list(digests)))
        return all(digest is not None and stored[root] == digest for root, digest in digests.items())

    def _note_walks(self, digests, walk_ns):
        write_unless_busy(self.conn, lambda conn: _note_walks(conn, digests, walk_ns))

    def _named_logs(self, roots, ids, paths, report):
        """{path: (root id, state)} of the named logs that exist, each under the root it lies below."""
        found = {}
        for path in paths:
            path = _expand(path)
            root = next((r for r in sorted(roots, key=len, reverse=True)
                         if path.startswith(r.rstrip(os.sep) + os.sep)), None)
            if root is None:
                continue
            try:
                st = os.stat(path)
            except OSError:
                continue
            if path.endswith(".jsonl") and _is_regular(st):
                found[path] = (ids[root], _file_state(st))
        report.files = len(found)
        return found

    def _recent_logs(self, root, root_id, since_ns, now_ns, report):
        """The logs a quick walk looks at: those written lately, and all in directories changed since since_ns.

        A directory's time changes when a log is added to it (a new session,
        a new subagent), not when a log grows: growing logs are the ones
        written lately.  Checked: projects/, each project directory, and the
        directories of the recent logs and of their sessions' subagents.
        """
        top = os.path.join(root, "projects")
        recent = [os.fsdecode(path) for (path,) in self.conn.execute(
            "SELECT path FROM files WHERE root_id = ? AND last_call >= ?", (root_id, now_ns // 10 ** 6 - RECENT_LOG_MS))]
        directories = {top}
        try:
            directories.update(entry.path for entry in os.scandir(top) if entry.is_dir())
        except OSError:
            return []
        for path in recent:
            directories.add(os.path.dirname(path))
            session_dir = os.path.splitext(path)[0]
            directories.update((session_dir, os.path.join(session_dir, "subagents")))
        found = {}
        changed = []
        for directory in directories:
            try:
                if os.stat(directory).st_mtime_ns >= since_ns - 2 * 10 ** 9:   # give or take the clock's steps
                    changed.append(directory)
            except OSError:
                pass
        for directory in changed:
            found.update(find_logs(root, report, directory, recursive=directory != top))
        for path in recent:
            if path not in found:
                try:
                    found[path] = _file_state(os.stat(path))
                except OSError:
                    pass
        return list(found.items())

    def _changed(self, on_disk, among=None):
        """[(path, stored row or None)] for files whose size, time or identity moved.

        among: only these paths can have (a few), so only their rows are read.
        """
        if among is None:
            among = [path for path, (_, state) in on_disk.items() if self.known.get(path) != state]
            if not among:
                return []
        if len(among) < 100:
            rows = self._file_rows(among)
            stored = {path: row[4:8] if row else None for path, row in rows.items()}
        else:
            rows = None
            found = self.conn.execute("SELECT path, dev, ino, size, mtime_ns FROM files").fetchall()
            stored = dict(zip(_decoded_paths([row[0] for row in found]), [row[1:] for row in found]))
        paths = []
        for path in among:
            state = on_disk[path][1]
            if stored.get(path) == state:
                self.known[path] = state
            else:
                paths.append(path)
        if paths and rows is None:
            if len(paths) < 100:
                rows = self._file_rows(paths)
            else:
                found = self.conn.execute(f"SELECT {FILE_COLUMNS} FROM files").fetchall()
                rows = dict(zip(_decoded_paths([row[0] for row in found]), found))
        return [(path, rows.get(path)) for path in paths]

    def _file_rows(self, paths):
        """{path: its files row (FILE_COLUMNS) or None}, looked up one by one."""
        return {path: self.conn.execute(f"SELECT {FILE_COLUMNS} FROM files WHERE path = ?",
                                        (os.fsencode(path),)).fetchone() for path in paths}

    @staticmethod
    def _file_record(path, root_id, state, positions, reader, row):
        """The files row (for RECORD_FILE) of a file read from positions[0] to positions[1]."""
        start, offset, tail_len, tail_crc = positions
        # Reading from the start again forgets what the old contents skipped.
        skipped = reader.skipped + (row[9] if row is not None and start > 0 else 0)
        last_call = max((call[C_TS] for call in reader.calls.values()), default=None)
        return (os.fsencode(path), root_id) + state + (offset, tail_len, tail_crc, skipped, last_call)

    def _claim(self, wait, bulk):
        """Claim the reading of logs for this process (None: another has it and wait is off).

        One process reads at a time, so that several starting at once do not
        all read the same logs; the claim is a row, not the write lock, which
        is taken only to write.  A dead claimant's claim goes stale; its bulk
        ingest's dropped triggers and index are put back then.
        """
        conn = self.conn
        deadline = time.monotonic() + (BUSY_TIMEOUT_MS / 1000 if wait else 0)
        while True:
            try:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS if wait else NO_WAIT_MS}")
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if wait or not _is_busy(exc):
                    raise
                return None
            finally:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            try:
                row = conn.execute("SELECT owner, heartbeat, bulk, dropped FROM ingest_claim").fetchone()
                if row is not None and _now_ms() - row[1] < CLAIM_STALE_MS and _claimant_lives(row[0]):
                    conn.execute("COMMIT")
                    if time.monotonic() >= deadline:
                        if wait:
                            raise CcusageError(f"the store {self.path} stayed busy (another ccusage is reading "
                                               f"logs into it) for {BUSY_TIMEOUT_MS // 60000} minutes; "
                                               "try again later")
                        return None
                    time.sleep(0.05)
                    continue
                if row is not None and row[2]:
                    _restore_rollups(conn, row[3])
                conn.execute("DELETE FROM ingest_claim")
                dropped = ""
                if bulk:
                    objects = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'calls' "
                                           "AND (type = 'trigger' OR name = 'calls_by_time')").fetchall()
                    dropped = ";\n".join(sql for _, _, sql in objects) + ";"
                    for kind, name, _ in objects:
                        conn.execute(f"DROP {kind.upper()} {name}")
                conn.execute("INSERT INTO ingest_claim VALUES (?, ?, ?, ?)", (self.owner, _now_ms(), bulk, dropped))
                conn.execute("COMMIT")
                return Claim(self.owner, bulk, dropped)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _release(self, claim):
        """Give up the claim; a bulk ingest's rollups are rebuilt first if its end was not reached."""
        if claim.released or self.conn is None:
            return
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT bulk, dropped FROM ingest_claim WHERE owner = ?", (claim.owner,)).fetchone()
                if row is not None and row[0]:
                    _restore_rollups(conn, row[1])
                conn.execute("DELETE FROM ingest_claim WHERE owner = ?", (claim.owner,))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error:
            pass   # the claim goes stale, and the next reader restores what it must
        claim.released = True

    # -- queries --

    def skipped_lines(self, root_ids):
        """[(path, lines skipped, root id)] of the logs below root_ids that had lines skipped.

        A log no longer there is left out: a rotated log's count went with it
        to its new name, and a compressed one was counted again when read whole.
        """
        marks = ",".join("?" * len(root_ids))
        return [(os.fsdecode(path), skipped, root_id) for path, skipped, root_id in self.conn.execute(
            f"SELECT path, skipped, root_id FROM files WHERE skipped > 0 AND root_id IN ({marks}) ORDER BY path",
            root_ids) if os.path.lexists(path)]


def _claimant_lives(owner):
    """Whether the process that made a claim may still be running: not if it was on this machine and is gone."""
    host, pid, _ = owner.rsplit(":", 2)
    if host != os.uname().nodename:
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError):
        pass
    return True


class Claim:
    """This process's claim to be reading logs into the store."""

    def __init__(self, owner, bulk, dropped):
        self.owner, self.bulk, self.dropped = owner, bulk, dropped
        self.released = False


def _restore_rollups(conn, dropped):
    """Rebuild the rollups from the calls and put back the triggers and index a bulk ingest dropped."""
    present = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'calls'")}
    for statement in _statements(dropped):
        name = statement.split()[2]
        if name not in present:
            conn.execute(statement)
    for statement in REBUILD_ROLLUPS:
        conn.execute(statement)


def _note_walks(conn, digests, walk_ns):
    """Store {root id: walk_digest or None}: what each root's logs were when last all read, and when."""
    conn.executemany("UPDATE roots SET walk_digest = ?, full_walk_ns = ? WHERE id = ?",
                     [(digest, walk_ns if digest is not None else None, root) for root, digest in digests.items()])


def write_unless_busy(conn, write):
    """Run write(conn) in a transaction of its own, unless another process holds the store.

    For what only saves later work: it is not worth a wait, and a store the
    user may only read goes without it.
    """
    try:
        conn.execute("PRAGMA busy_timeout = 0")
        conn.execute("BEGIN IMMEDIATE")
        write(conn)
        conn.execute("COMMIT")
    except sqlite3.OperationalError:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


# A status line waits at most this long to record the official figures.
RECORD_WAIT_MS = 250
# The same figures seen again within this long are not recorded again.
RECORD_REPEAT_MS = 60_000


def record_rate_limits(conn, rows, seen_ms):
    """Store official figures (rows of official_rows) as seen at seen_ms; False when the store stayed busy."""
    def unchanged(row):
        latest = conn.execute("SELECT used_percentage, resets_at, captured_at FROM rate_limits WHERE window = ? "
                              "ORDER BY captured_at DESC LIMIT 1", (row[0],)).fetchone()
        return latest is not None and latest[:2] == tuple(row[1:3]) and seen_ms - latest[2] < RECORD_REPEAT_MS

    try:
        conn.execute(f"PRAGMA busy_timeout = {RECORD_WAIT_MS}")
        conn.execute("BEGIN IMMEDIATE")
        new = [row for row in rows if not unchanged(row)]
        conn.executemany("INSERT OR IGNORE INTO rate_limits (window, captured_at, used_percentage, resets_at) "
                         "VALUES (?, ?, ?, ?)", [(row[0], seen_ms, row[1], row[2]) for row in new])
        spend = [(seen_ms,) + tuple(row[3:]) for row in new if row[0] == "spend_limit"]
        if spend:
            conn.executemany("INSERT OR IGNORE INTO spend_limits VALUES (?, ?, ?, ?)", spend)
        conn.execute("COMMIT")
        return True
    except sqlite3.OperationalError:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def claim_alerts(conn, states, now_ms, cooldown_ms):
    """Of [(budget name, state)], those to alert of now, as [(name, previous state, state)], recorded as alerted.

    A budget alerts when its state is not the one it last alerted of (ok,
    before any), unless it alerted less than cooldown_ms ago.  Claimed in one
    transaction: two checks at once alert once.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        known = {name: (state, at) for name, state, at in
                 conn.execute("SELECT budget, state, alerted_at FROM budget_alerts")}
        due = []
        for name, state in states:
            previous, at = known.get(name, ("ok", None))
            if state != previous and (at is None or now_ms - at >= cooldown_ms):
                due.append((name, previous, state))
        conn.executemany("INSERT OR REPLACE INTO budget_alerts VALUES (?, ?, ?)",
                         [(name, state, now_ms) for name, _, state in due])
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return due


def release_alert(conn, name, previous, now_ms):
    """An alert that reached no one: back to the state before, so that it is tried again after the cooldown."""
    conn.execute("INSERT OR REPLACE INTO budget_alerts VALUES (?, ?, ?)", (name, previous, now_ms))


def _decoded_paths(paths):
    """os.fsdecode of each of paths (a list of bytes), in one decoding: no path holds a NUL."""
    if not paths:
        return []
    return b"\0".join(paths).decode(sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()).split("\0")


def _unread(on_disk, changed):
    """{path: bytes not yet read} of the changed files (all of a file that shrank: it is read again)."""
    unread = {}
    for path, row in changed:
        size = on_disk[path][1][2]
        unread[path] = size - row[1] if row and row[1] <= size else size
    return unread


def move_store_aside(path, exc, messages):
    """Set an unreadable store aside (as PATH.corrupt-TIME) so that a new one is built from the logs.

    Only a file that is, or was meant to be, a store: an SQLite file or one
    named *.db.  Any other file named by mistake is left alone.
    """
    try:
        with open(path, "rb") as f:
            start = f.read(16)
    except FileNotFoundError:
        return
    except OSError as err:
        raise CcusageError(f"cannot read the store {path}: {_reason(err)}")
    if start and not start.startswith(b"SQLite format 3\0") and not path.endswith(".db"):
        raise CcusageError(f"{path} is not a ccusage store (not an SQLite database); name another with --db")
    aside = f"{path}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return
    except OSError as err:
        raise CcusageError(f"the store {path} is unreadable ({exc}) and cannot be moved aside: {_reason(err)}")
    for suffix in ("-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except OSError:
            pass
    messages.warn(f"the store {path} was unreadable ({exc}); moved it to {aside} and rebuilding it from the logs")


def _statements(script):
    """The statements of an SQL script, trigger bodies kept whole."""
    statement = ""
    for piece in script.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \n;"):
                yield statement
            statement = ""


def _project_dir(path):
    """The directory under projects/ a transcript lives in: Claude Code's encoding of its cwd."""
    parts = path.split(os.sep)
    if "projects" in parts:
        index = len(parts) - 1 - parts[::-1].index("projects")
        if index + 2 < len(parts):
            return parts[index + 1]
    return ""


# Calls are written in transactions of about this many: few enough that
# the write lock is soon free again, enough for the writing to be quick.
FLUSH_CALLS = 8192


class Ingest:
    """Writes the calls read from logs, a batch per write transaction, under this process's claim.

    A bulk claim has dropped the rollup triggers and the index by time:
    they are rebuilt once at the end instead of being kept call by call.
    """

    def __init__(self, store, claim):
        self.store = store
        self.conn = store.conn
        self.claim = claim
        self.models = dict(self.conn.execute("SELECT name, id FROM models"))
        self.projects = dict(self.conn.execute("SELECT path, id FROM projects"))
        # A bulk ingest meets most sessions there are; a small one looks up the few it meets.
        self.sessions = dict(self.conn.execute("SELECT session_id, id FROM sessions")) if claim.bulk else {}
        self.refs = {}
        self.pending = {}
        # Models in the order the logs name them, which is the order they get ids in.
        self.model_names = {}
        self.files = []
        self.resets = []
        self.requests = {}
        self.first_ts = None
        # With logs of other kinds in the store, one response may be seen by
        # a proxy (keyed by its message id) and in a transcript (by message
        # id and request id): both are the same call.
        self.keys_by_message = {} if self.conn.execute(
            "SELECT 1 FROM roots WHERE kind != 0 LIMIT 1").fetchone() else None
        # The pending calls only proxy or calls logs have told of so far.
        self.logged_only = set()

    def add(self, root_id, path, reader, file_record):
        """Take in one log's calls and its files row; written once enough are pending."""
        directory = _project_dir(path)
        from_log = isinstance(reader, RecordReader)
        default_session = record_log_stem(path) if from_log else os.path.splitext(os.path.basename(path))[0]
        pending, model_names, logged_only = self.pending, self.model_names, self.logged_only
        tracking = self.keys_by_message is not None
        root_bit = 1 << (root_id - 1)
        first = self.first_ts
        for key, call in reader.calls.items():
            model_names[call[C_MODEL]] = None
            who = (call[C_SESSION] or default_session, call[C_CWD] or directory or "(unknown)", directory)
            entry = (call, root_bit, who)
            previous = pending.get(key)
            if previous is not None:
                # A transcript's account of a call (its session, its project) wins over a log's.
                if from_log and key not in logged_only:
                    who = previous[2]
                entry = (merge_lines(previous[0], call), root_bit | previous[1], who)
            if tracking:
                if not from_log:
                    logged_only.discard(key)
                elif previous is None:
                    logged_only.add(key)
            pending[key] = entry
            ts = call[C_TS]
            if first is None or ts < first:
                first = ts
        for ts, reset_at in reader.limit_resets:
            self.resets.append((ts, reset_at, root_id))
            if first is None or ts < first:
                first = ts
        for key, request in reader.requests.items() if from_log else ():
            previous = self.requests.get(key)
            self.requests[key] = (request, root_bit | (previous[1] if previous else 0))
            if first is None or request.ts < first:
                first = request.ts
        self.first_ts = first
        self.files.append(file_record)
        if len(pending) >= FLUSH_CALLS:
            self.flush()

    def flush(self, digests=None, walk_ns=None):
        """Write what is pending in one transaction (with the walk digests once every log is read)."""
        if not self.pending and not self.files and digests is None:
            return
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for name in self.model_names:
                self._model(name)
            rows = []
            pending, roots_only = (self.pending, ()) if self.keys_by_message is None else \
                self._same_responses_joined()
            conn.executemany("UPDATE calls SET roots = roots | ? WHERE key = ?", roots_only)
            for key, (call, roots, who) in pending.items():
                session_id, project_id = self._refs(who)
                rows.append((key, call[C_TS], roots, session_id, project_id, self._model(call[C_MODEL]))
                            + call[C_INPUT:])
            # In key order the b-tree fills page by page instead of all over.
            rows.sort()
            conn.executemany(UPSERT_CALL, rows)
            conn.executemany(UPSERT_REQUEST, [request.row()[:2] + (roots, self._model(request.model))
                                              + request.row()[3:] for request, roots in self.requests.values()])
            conn.executemany("INSERT OR IGNORE INTO limit_resets (ts, reset_at, root_id) VALUES (?, ?, ?)",
                             self.resets)
            conn.executemany(RECORD_FILE, self.files)
            if self.first_ts is not None:
                conn.execute("UPDATE window_state SET changed_from = min(ifnull(changed_from, ?1), ?1)",
                             (self.first_ts,))
            if rows or self.files:
                conn.execute("UPDATE generation SET value = value + 1")
            conn.execute("UPDATE ingest_claim SET heartbeat = ? WHERE owner = ?", (_now_ms(), self.claim.owner))
            if digests is not None:
                if self.claim.bulk:
                    _restore_rollups(conn, self.claim.dropped)
                    conn.execute("UPDATE ingest_claim SET bulk = 0 WHERE owner = ?", (self.claim.owner,))
                _note_walks(conn, digests, walk_ns)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.pending, self.model_names, self.files, self.resets, self.first_ts = {}, {}, [], [], None
        self.requests, self.logged_only = {}, set()

    def _stored_keys(self, message_ids):
        """(the message_ids the store has as keys, {message id: a key of it with a request id}) of message_ids."""
        if not message_ids:
            return set(), {}
        conn = self.conn
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS looked_up (id TEXT PRIMARY KEY) WITHOUT ROWID")
        conn.execute("DELETE FROM looked_up")
        conn.executemany("INSERT INTO looked_up VALUES (?)", ((message_id,) for message_id in message_ids))
        as_is = {message_id for (message_id,) in conn.execute(
            "SELECT id FROM looked_up JOIN calls ON calls.key = looked_up.id")}
        with_request = dict(conn.execute(
            "SELECT id, (SELECT key FROM calls WHERE key > id || ':' AND key < id || ';' LIMIT 1) AS found "
            "FROM looked_up WHERE found IS NOT NULL"))
        return as_is, with_request

    def _same_responses_joined(self):
        """(calls to write, (roots, key) of calls the store has that only gain roots) of the pending calls.

        A response seen by a proxy (keyed by its message id) and in a
        transcript (by message id and request id) is one call: it is kept
        under the key the store already has for it, else the transcript's.
        A transcript's account of it (its session, its project) wins over a
        proxy's, so a proxy that sees a call the store has from a transcript
        only adds its root; so does one that sees a call the store has under
        the same key (a transcript's line without a request id).
        """
        by_message = self.keys_by_message
        # (key, message id, whether it names a request, the step it bills ("#2", or ""), its key without the step)
        parts = []
        for key in self.pending:
            if key.startswith("h:"):
                parts.append((key, None, False, "", key))
                continue
            base, mark, step = key.partition("#")
            # Only a transcript's key is "message id:request id": a log's own id may hold a colon too.
            message_id, colon, _ = (base, "", "") if key in self.logged_only else base.partition(":")
            parts.append((key, message_id, bool(colon), mark + step, base))
        # Looked up in two statements, not two a call: a proxy log may hold hundreds of thousands.
        looked_up = {message_id for _, message_id, _, _, _ in parts if message_id is not None} - set(by_message)
        as_is, with_request = self._stored_keys(looked_up)
        for key, message_id, colon, step, base in parts:
            if colon and message_id not in by_message:
                by_message[message_id] = message_id if message_id in as_is else base
        joined, roots_only = {}, {}
        for key, message_id, colon, step, base in parts:
            entry = self.pending[key]
            if message_id is None:
                joined[key] = entry
                continue
            if not colon and message_id not in by_message:
                found = with_request.get(message_id)
                by_message[message_id] = found.partition("#")[0] if found else base
            target = by_message[message_id] + step
            # Whether the store has the response under this key: found now, or written by an earlier batch.
            stored = message_id in as_is if message_id in looked_up else True
            if not colon and (target != key or key in self.logged_only and stored):
                roots_only[target] = entry[1] | roots_only.get(target, 0)
                continue
            previous = joined.get(target)
            if previous is not None:
                # The transcript's line is the later one, so that it wins a tie.
                proxy, transcript = (previous, entry) if colon else (entry, previous)
                entry = (merge_lines(proxy[0], transcript[0]), proxy[1] | transcript[1], transcript[2])
            joined[target] = entry
        calls = {}
        for target, (call, roots, who) in joined.items():
            calls[target] = (call, roots | roots_only.pop(target, 0), who)
        return calls, [(bits, key) for key, bits in roots_only.items()]

    def finish(self, digests, walk_ns):
        self.flush(digests, walk_ns)

    def _model(self, name):
        model_id = self.models.get(name)
        if model_id is None:
            model_id = self.models[name] = self._id("models", "name", name)
        return model_id

    def _id(self, table, column, value, extra=None):
        """The id of table's row whose column is value, adding it (with extra: (column, value)) when new.

        Another process may have added it since this one looked: then the
        insert is ignored and the row looked up.
        """
        if not self.claim.bulk or table == "models":
            row = self.conn.execute(f"SELECT id FROM {table} WHERE {column} = ?", (value,)).fetchone()
            if row:
                return row[0]
        columns, values = (column,) + ((extra[0],) if extra else ()), (value,) + ((extra[1],) if extra else ())
        cursor = self.conn.execute(f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES "
                                   f"({', '.join('?' * len(columns))})", values)
        if cursor.rowcount:
            return cursor.lastrowid
        return self.conn.execute(f"SELECT id FROM {table} WHERE {column} = ?", (value,)).fetchone()[0]

    def _refs(self, who):
        """(session id, project id) in the store of (session, cwd, directory), registering either when new."""
        ref = self.refs.get(who)
        if ref is not None:
            return ref
        session, cwd, directory = who
        project_id = self.projects.get(cwd)
        if project_id is None:
            project_id = self.projects[cwd] = self._id("projects", "path", cwd, ("dir", directory))
        session_id = self.sessions.get(session)
        if session_id is None:
            session_id = self.sessions[session] = self._id("sessions", "session_id", session,
                                                           ("project_id", project_id))
        ref = self.refs[who] = (session_id, project_id)
        return ref


def prune_calls(conn, before_ms):
    """Delete the calls made before before_ms, and the requests, limit messages and official figures of then.

    The rollups lose the calls by their trigger (or are rebuilt by a bulk
    ingest that has dropped it); the kept windows are computed again from
    the first call deleted, and the report cache is emptied.  Returns how
    many calls went.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        first = conn.execute("SELECT min(ts) FROM calls WHERE ts < ?", (before_ms,)).fetchone()[0]
        deleted = conn.execute("DELETE FROM calls WHERE ts < ?", (before_ms,)).rowcount
        conn.execute("DELETE FROM limit_resets WHERE ts < ?", (before_ms,))
        conn.execute("DELETE FROM requests WHERE ts < ?", (before_ms,))
        conn.execute("DELETE FROM rate_limits WHERE captured_at < ?", (before_ms,))
        if deleted:
            for table in ("hourly", "hourly_models"):
                conn.execute(f"DELETE FROM {table} WHERE calls = 0")
            conn.execute("UPDATE window_state SET changed_from = min(ifnull(changed_from, ?1), ?1)", (first,))
            conn.execute("DELETE FROM report_cache")
            conn.execute("UPDATE generation SET value = value + 1")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return deleted


def compact_store(store):
    """VACUUM the store and empty its write-ahead log, so that deleted calls give their space back.

    Returns the bytes the store's files took before and after; a store
    another process is reading stays as it is (and a warning says so).
    """
    def size():
        return sum(os.path.getsize(store.path + suffix) for suffix in ("", "-wal")
                   if os.path.exists(store.path + suffix))
    before = size()
    try:
        store.conn.execute("VACUUM")
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.OperationalError as exc:
        store.messages.warn(f"the store {store.path} was not compacted ({exc}); "
                            "the next prune that deletes calls compacts it")
    return before, size()


# ---------------------------------------------------------------------------
# Aggregation
# ---------------------------------------------------------------------------



# Names of UTC itself; such a zone needs no zoneinfo (a quick run's cost to import).
_UTC_NAMES = {"UTC", "Z", "ETC/UTC", "UCT", "ETC/UCT", "UNIVERSAL", "ETC/UNIVERSAL", "ZULU", "ETC/ZULU"}


def load_timezone(name):
    """A tzinfo for an IANA name, or the system's zone when name is None."""
    if name is None:
        return system_timezone()
    if name.upper() in _UTC_NAMES:
        return timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CcusageError(f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin or UTC",
                           EXIT_USAGE)


class SystemLocalTime(tzinfo):
    """The C library's local time, for a TZ that zoneinfo cannot read (a POSIX rule such as CET-1CEST)."""

    def utcoffset(self, moment):
        wall = moment.replace(tzinfo=None).timetuple()
        return timedelta(seconds=time.localtime(time.mktime(wall)).tm_gmtoff)

    def dst(self, moment):
        return None

    def tzname(self, moment):
        wall = moment.replace(tzinfo=None).timetuple()
        return time.localtime(time.mktime(wall)).tm_zone

    def fromutc(self, moment):
        seconds = (moment.replace(tzinfo=None) - datetime(1970, 1, 1)).total_seconds()
        return moment + timedelta(seconds=time.localtime(seconds).tm_gmtoff)


def system_timezone():
    name = system_timezone_name()
    if name.upper() in _UTC_NAMES:
        return timezone.utc
    from zoneinfo import ZoneInfo
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except Exception:
            return SystemLocalTime()
    try:
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    except Exception:
        return SystemLocalTime()


def system_timezone_name():
    """The system zone's IANA name where it can be told, else "localtime"."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        return name
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        return "localtime"
    return target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else "localtime"


def _offset_ms(tz, epoch_s):
    return int(datetime.fromtimestamp(epoch_s, tz).utcoffset().total_seconds() * 1000)


def offset_segments(tz, lo_ms, hi_ms):
    """[(from_ms, utc_offset_ms)] covering lo..hi: when each UTC offset of tz starts."""
    lo_s, hi_s = lo_ms // 1000 - 86_400, hi_ms // 1000 + 86_400
    current = _offset_ms(tz, lo_s)
    segments = [(None, current)]
    t = lo_s
    while t < hi_s:
        nxt = min(t + 86_400, hi_s)
        offset = _offset_ms(tz, nxt)
        if offset != current:
            a, b = t, nxt
            while b - a > 1:
                mid = (a + b) // 2
                if _offset_ms(tz, mid) == current:
                    a = mid
                else:
                    b = mid
            segments.append((b * 1000, offset))
            current = offset
        t = nxt
    return segments


def local_day_sql(segments, ts):
    """An SQL expression of the local day number (days since 1970-01-01) of time expression ts."""
    if len(segments) == 1:
        return f"(({ts} + {segments[0][1]}) / {MS_PER_DAY})"
    cases = " ".join(f"WHEN {ts} < {start} THEN {prev[1]}" for prev, (start, _) in zip(segments, segments[1:]))
    return f"(({ts} + CASE {cases} ELSE {segments[-1][1]} END) / {MS_PER_DAY})"


def day_of_number(number):
    return date(1970, 1, 1) + timedelta(days=number)


def local_midnight_ms(day, tz):
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() * 1000)


# Calls lie between EARLIEST_MS and LATEST_MS.  A filter day beyond these days
# (a day's margin for the zones' offsets) filters as the nearest of them: the
# same calls, and calendar sums inside the years datetime and the C library
# can reckon with (9999-12-31 has no next day for datetime).
FIRST_FILTER_DAY, LAST_FILTER_DAY = date(1999, 12, 30), date(2200, 1, 2)


def _filter_day(day):
    return min(max(day, FIRST_FILTER_DAY), LAST_FILTER_DAY)


def day_start_ms(day, tz):
    """Epoch ms where local day begins, for a filter day of any year date allows."""
    return local_midnight_ms(_filter_day(day), tz)


def day_end_ms(day, tz):
    """Epoch ms where local day ends (the next one begins), for a filter day of any year date allows."""
    return local_midnight_ms(_filter_day(day) + timedelta(days=1), tz)


# The number of CONTEXT_BANDS a call's prompt exceeds, as the rollups keep it.
BAND_SQL = " + ".join(f"(input + cache_write_5m + cache_write_1h + cache_read > {over})" for over in CONTEXT_BANDS)


class Filters:
    """Which calls a report covers."""

    def __init__(self, since=None, until=None, project=None):
        self.since = since
        self.until = until
        self.project = project


class Usage:
    """Token and cost sums of a set of calls."""

    __slots__ = ("calls", "input", "output", "cache_write_5m", "cache_write_1h", "cache_read",
                 "web_searches", "cost", "unpriced", "first", "last", "roots")

    def __init__(self):
        # roots: the bits of the roots the calls were read from, where the query tells them apart.
        self.roots = 0
        self.calls = self.input = self.output = 0
        self.cache_write_5m = self.cache_write_1h = self.cache_read = self.web_searches = 0
        self.cost = 0.0
        self.unpriced = 0
        self.first = self.last = None

    @property
    def cache_write(self):
        return self.cache_write_5m + self.cache_write_1h

    @property
    def total_tokens(self):
        return self.input + self.output + self.cache_write + self.cache_read

    def add(self, other):
        self.calls += other.calls
        self.input += other.input
        self.output += other.output
        self.cache_write_5m += other.cache_write_5m
        self.cache_write_1h += other.cache_write_1h
        self.cache_read += other.cache_read
        self.web_searches += other.web_searches
        self.cost += other.cost
        self.unpriced += other.unpriced
        self.roots |= other.roots
        if other.first is not None:
            self.first = other.first if self.first is None else min(self.first, other.first)
            self.last = other.last if self.last is None else max(self.last, other.last)


class UsageQuery:
    """Runs grouped sums over the store and prices them."""

    def __init__(self, store, root_ids, prices, tz, mode, source_names=None):
        self.store = store
        # {root id: source name} of the roots in use; with several sources, rows say which saw their calls.
        self.source_names = source_names or {}
        self.several_sources = len(set(self.source_names.values())) > 1
        self.conn = store.conn
        self.root_ids = root_ids
        # The bits of a call's roots column that the roots in use stand for.
        self.roots_mask = sum(1 << (i - 1) for i in root_ids)
        self.prices = prices
        self.tz = tz
        self.mode = mode
        self.unpriced_models = {}
        # The unpriced calls of the sum being priced (see begin_pass).
        self._pass = None
        self._models = None
        # (plan text, generation) of the rows grouped last returned.
        self.answered = None

    def source_list(self, roots):
        """The names of the sources whose roots are among the bits roots, in order."""
        return sorted({name for root_id, name in self.source_names.items() if roots & (1 << (root_id - 1))})

    def source_text(self, roots):
        """The names of the sources that saw calls of the bits roots as one text ("claude-code+proxy"): with
        one source in use, its name whatever roots say (the query then tells no roots apart)."""
        names = self.source_list(roots) if self.several_sources else sorted(set(self.source_names.values()))
        return "+".join(names) or DEFAULT_SOURCE_NAME

    def model_name(self, model_id):
        # A long run sees models another process added since it last looked.
        if self._models is None or model_id not in self._models:
            self._models = dict(self.conn.execute("SELECT id, name FROM models"))
        return self._models[model_id]

    def _where(self, filters, ts):
        """SQL conditions (on time expression ts) and their parameters for filters."""
        clauses = [f"(roots & {self.roots_mask}) != 0"]
        params = []
        if filters.since is not None:
            clauses.append(f"{ts} >= ?")
            params.append(day_start_ms(filters.since, self.tz))
        if filters.until is not None:
            clauses.append(f"{ts} < ?")
            params.append(day_end_ms(filters.until, self.tz))
        if filters.project is not None:
            ids = self.project_ids(filters.project)
            clauses.append(f"project_id IN ({','.join(str(i) for i in ids) or 'NULL'})")
        return " AND ".join(clauses), params

    def project_ids(self, name):
        """Projects whose path, last path component or encoded directory (its leading "-" optional) is name."""
        return [pid for pid, path, directory in self.conn.execute("SELECT id, path, dir FROM projects")
                if name in (path, os.path.basename(path.rstrip("/")), directory, directory.lstrip("-"))]

    def project_names(self):
        """The last path components of the projects with calls from the roots in use."""
        where, params = self._where(Filters(), "hour * 3600000")
        return sorted({os.path.basename(path.rstrip("/")) or path for (path,) in self.conn.execute(
            f"SELECT DISTINCT projects.path FROM hourly JOIN projects ON projects.id = project_id WHERE {where}",
            params)})

    def grouped(self, group_by, filters):
        """{(group key..., model_id): Usage} with group_by a list of 'day', 'session', 'project'.

        With several sources in use, each Usage's roots say which saw its calls.
        """
        result = {}
        by_roots = self.several_sources
        group_by = self._group_keys(group_by)
        outer = self.begin_pass()
        try:
            self._price_groups(result, group_by, by_roots, filters)
        finally:
            self.end_pass(outer)
        return result

    def _group_keys(self, group_by):
        """What grouped groups the calls by: group_by, and with several sources in use their roots."""
        return group_by + ["roots"] if self.several_sources else group_by

    def _price_groups(self, result, group_by, by_roots, filters):
        """Price the sums of grouped into result."""
        width = len(group_by) + 1
        # Summed in an order that does not depend on the ids the store gave models.
        rows = sorted(self._grouped_rows(group_by, filters),
                      key=lambda row: (row[:width - 1], self.model_name(row[width - 1]), row[width - 1:width + 5]))
        for row in rows:
            key = row[:width - 2] + row[width - 1:width] if by_roots else row[:width]
            part = Usage()
            if by_roots:
                part.roots = row[width - 2]
            (part.calls, part.input, part.output, part.cache_write_5m, part.cache_write_1h, part.cache_read,
             part.web_searches, logged_cost, part.first, part.last) = row[width + 5:]
            self.price(part, key[-1], *row[width:width + 5], logged_cost)
            usage = result.get(key)
            if usage is None:
                usage = result[key] = Usage()
            usage.add(part)

    def _grouped_rows(self, group_by, filters):
        """The sums behind grouped, per group and everything a price depends on.

        A query's rows are kept in the report cache until the store next
        changes, so asking again costs no summing.
        """
        import json
        conn = self.conn
        # One snapshot for the generation, the cache and the sums.
        conn.execute("BEGIN")
        try:
            generation = conn.execute("SELECT value FROM generation").fetchone()[0]
            sql, params, query = self._plan(group_by, filters)
            self.answered = (query, generation)
            if sql is None:
                return []
            cached = conn.execute("SELECT rows FROM report_cache WHERE query = ? AND generation = ?",
                                  (query, generation)).fetchone()
            if cached:
                return [tuple(row) for row in json.loads(cached[0])]
            rows = conn.execute(sql, params).fetchall()
        finally:
            conn.execute("COMMIT")
        self._remember(query, generation, json.dumps(rows, separators=(",", ":")))
        return rows

    def _plan(self, group_by, filters):
        """(SQL, parameters, the two as one text) of the sums behind grouped; no SQL when no call matches.

        Sums come from the hourly rollup when the zone's day boundaries fall on
        whole UTC hours and no session is asked for; from the calls otherwise.
        The text says all the rows depend on but the store: the roots, the
        filters, the zone's offsets over the calls' time.
        """
        conn = self.conn
        rollup = "hourly" if filters.project is not None or "project" in group_by else "hourly_models"
        where, params = self._where(filters, "hour * 3600000")
        # The rollups are in hour order: the first and last hour are found without a scan.
        first_hour = f"SELECT hour FROM {rollup} WHERE {where} AND calls > 0 ORDER BY hour"
        lo, hi = conn.execute(f"SELECT ({first_hour} LIMIT 1), ({first_hour} DESC LIMIT 1)",
                              params + params).fetchone()
        if lo is None:
            return None, None, f"{first_hour}\n{params!r}"
        segments = offset_segments(self.tz, lo * 3_600_000, hi * 3_600_000 + 3_599_999)
        if "session" not in group_by and all(offset % 3_600_000 == 0 for _, offset in segments):
            ts, table, calls, band, cost = "hour * 3600000", rollup, "sum(calls)", "band", "total(cost_usd)"
            has_cost, first, last = "has_cost", "min(hour) * 3600000", "max(hour) * 3600000 + 3599999"
            where += " AND calls > 0"
        else:
            where, params = self._where(filters, "ts")
            ts, table, calls, band = "ts", "calls", "count(*)", BAND_SQL
            cost, has_cost, first, last = "total(cost_usd)", "cost_usd IS NOT NULL", "min(ts)", "max(ts)"
        dates = self.prices.change_dates()
        era = " + ".join(f"({ts} >= {int(_date_ms(d))})" for d in dates) or "0"
        columns = {"day": local_day_sql(segments, ts), "session": "session_id", "project": "project_id",
                   "roots": "roots"}
        keys = [columns[g] for g in group_by] + ["model_id", "fast", "us_geo", band, era, has_cost]
        positions = ", ".join(str(i + 1) for i in range(len(keys)))
        sql = (f"SELECT {', '.join(keys)}, {calls}, sum(input), sum(output), sum(cache_write_5m), "
               f"sum(cache_write_1h), sum(cache_read), sum(web_searches), {cost}, {first}, {last} "
               f"FROM {table} WHERE {where} GROUP BY {positions} ORDER BY {positions}")
        return sql, params, f"{sql}\n{params!r}"

    def _remember(self, query, generation, text):
        """Put text in the report cache under query for generation (unless another process is writing the store)."""
        def write(conn):
            if conn.execute("SELECT value FROM generation").fetchone()[0] == generation:
                conn.execute("DELETE FROM report_cache WHERE generation != ?", (generation,))
                conn.execute("INSERT OR REPLACE INTO report_cache VALUES (?, ?, ?)", (query, generation, text))
        write_unless_busy(self.conn, write)

    def cached_answer(self, group_by, filters, shown):
        """The output a report kept (see remember_answer) for grouped(group_by, filters) shown as shown says, or None.

        Kept for the store's generation and the text of the query's plan: so
        only while the store, the roots, the filters and the zone's offsets
        are all as they were.
        """
        conn = self.conn
        group_by = self._group_keys(group_by)
        conn.execute("BEGIN")
        try:
            generation = conn.execute("SELECT value FROM generation").fetchone()[0]
            query = self._plan(group_by, filters)[2]
            row = conn.execute("SELECT rows FROM report_cache WHERE query = ? AND generation = ?",
                               (f"answer {shown}\n{query}", generation)).fetchone()
        finally:
            conn.execute("COMMIT")
        return row[0] if row else None

    def remember_answer(self, shown, text):
        """Keep text, the output of the last grouped's rows shown as shown says, for cached_answer."""
        query, generation = self.answered
        self._remember(f"answer {shown}\n{query}", generation, text)

    def price(self, part, model_id, fast, us_geo, band_index, era_index, has_cost, logged_cost):
        """Set the cost of part, calls that share a model and everything else their price depends on."""
        if self.mode == "display" or (self.mode == "auto" and has_cost):
            part.cost = logged_cost
            return
        model = self.model_name(model_id)
        dates = self.prices.change_dates()
        tokens = (part.input, part.cache_write_5m, part.cache_write_1h, part.cache_read, part.output)
        cost = self.prices.cost(model, tokens, part.web_searches,
                                CONTEXT_BANDS[band_index - 1] + 1 if band_index else 0,
                                dates[era_index - 1] if era_index else "0000-00-00", fast, us_geo)
        if cost is None:
            counts = self.unpriced_models if self._pass is None else self._pass
            counts[model] = counts.get(model, 0) + part.calls
            part.cost, part.unpriced = 0.0, part.calls
        else:
            part.cost = cost

    def begin_pass(self):
        """Start counting the unpriced calls of one sum of calls (a report's, the windows'); returns the
        pass it is part of, for end_pass."""
        outer, self._pass = self._pass, {}
        return outer

    def end_pass(self, outer):
        """End a pass begun by begin_pass.  The sums a command makes may cover the same calls (the
        windows, then the current one's rate): unpriced_models keeps each model's count of the pass
        that counted most, so that no call is counted twice."""
        counts, self._pass = self._pass, outer
        for model, calls in counts.items():
            if outer is not None:
                outer[model] = outer.get(model, 0) + calls
            else:
                self.unpriced_models[model] = max(self.unpriced_models.get(model, 0), calls)

    def era_sql(self, ts="ts"):
        """SQL of the number of price changes before time expression ts."""
        return " + ".join(f"({ts} >= {int(_date_ms(d))})" for d in self.prices.change_dates()) or "0"

    def calls_in_order(self, since=None, project=None):
        """The calls from time since on (of one project, when named), oldest first, as WINDOW_ROW fields."""
        where, params = self._where(Filters(project=project), "ts")
        if since is not None:
            where += " AND ts >= ?"
            params.append(since)
        return self.conn.execute(
            f"SELECT ts, model_id, fast, us_geo, {BAND_SQL}, {self.era_sql()}, cost_usd IS NOT NULL, "
            "input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd "
            f"FROM calls WHERE {where} ORDER BY ts", params)

    def limit_resets(self):
        """[(time of a 'usage limit reached' line, reset epoch ms)], oldest first."""
        roots = ",".join(str(int(i)) for i in self.root_ids)
        return [(ts, reset * 1000) for ts, reset in self.conn.execute(
            f"SELECT DISTINCT ts, reset_at FROM limit_resets WHERE root_id IN ({roots}) ORDER BY ts")]

    def rate_limits(self):
        """{window: (captured_at ms, used percentage, resets_at ms)}: the latest official figures."""
        return {window: (captured, used, resets * 1000) for window, captured, used, resets in self.conn.execute(
            "SELECT window, max(captured_at), used_percentage, resets_at FROM rate_limits GROUP BY window")}


def _date_ms(iso_day):
    day = date.fromisoformat(iso_day)
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000


class ReportRow:
    """One line of a report: a period, session or project, with per-model parts."""

    def __init__(self, key):
        self.key = key
        self.total = Usage()
        self.models = {}
        self.project = None
        self.session = None

    def add(self, model, usage):
        self.total.add(usage)
        if model not in self.models:
            self.models[model] = Usage()
        self.models[model].add(usage)


def first_day_of_week(day, start_index):
    """The day the week of day begins on, weeks starting on WEEKDAYS[start_index]."""
    return day - timedelta(days=(day.weekday() - start_index) % 7)


def period_label(day, period, week_start):
    if period == "daily":
        return day.isoformat()
    if period == "weekly":
        return first_day_of_week(day, week_start).isoformat()
    return day.strftime("%Y-%m")


def period_report(query, period, filters, week_start, by_project):
    """Rows of a daily, weekly or monthly report, keyed (project, period label)."""
    group = ["day", "project"] if by_project else ["day"]
    rows = {}
    projects = {}
    if by_project:
        projects = dict(query.conn.execute("SELECT id, path FROM projects"))
    for key, usage in query.grouped(group, filters).items():
        label = period_label(day_of_number(key[0]), period, week_start)
        project = projects.get(key[1]) if by_project else None
        row = rows.get((project, label))
        if row is None:
            row = rows[(project, label)] = ReportRow(label)
            row.project = project
        row.add(query.model_name(key[-1]), usage)
    return [rows[k] for k in sorted(rows, key=lambda k: (k[0] or "", k[1]))]


def session_report(query, filters):
    sessions = {sid: (name, ppath) for sid, name, ppath in query.conn.execute(
        "SELECT sessions.id, session_id, projects.path FROM sessions JOIN projects ON projects.id = project_id")}
    rows = {}
    for (session_id, model_id), usage in query.grouped(["session"], filters).items():
        row = rows.get(session_id)
        if row is None:
            name, project = sessions[session_id]
            row = rows[session_id] = ReportRow(name)
            row.session, row.project = name, project
        row.add(query.model_name(model_id), usage)
    return sorted(rows.values(), key=lambda r: (r.total.last, r.key))


HOUR_MS = 3_600_000
MINUTE_MS = 60_000
# Anthropic publishes no token numbers for its plans: these are guesses of
# the tokens (all four kinds) a 5-hour window allows, Max 5x and 20x being 5
# and 20 times Pro.  `plan = "auto"` learns the user's own limit instead.
PLAN_ESTIMATES = {"pro": 10_000_000, "max5": 50_000_000, "max20": 200_000_000}
PLAN_NAMES = {"pro": "Pro", "max5": "Max 5x", "max20": "Max 20x"}
# Anthropic's list prices of the plans, US dollars a month (checked with PRICES_CHECKED).
PLAN_LIST_PRICES = {"pro": 20, "max5": 100, "max20": 200}
# The burn rate is measured over this much of the latest activity.
BURN_SPAN_MINUTES = 60
RECENT_DAYS = 3


# A call as windows are built from it: its time, what its price depends on
# (model id, fast, us_geo, band, era, has a logged cost) and its usage.
WINDOW_ROW = ("ts", "model_id", "fast", "us_geo", "band", "era", "has_cost", "input", "output", "cache_write_5m",
              "cache_write_1h", "cache_read", "web_searches", "cost_usd")
W_TS, W_MODEL = 0, 1
W_PRICE_KEY = slice(1, 7)
(W_INPUT, W_OUTPUT, W_CACHE_5M, W_CACHE_1H, W_CACHE_READ, W_SEARCHES, W_COST) = range(7, len(WINDOW_ROW))


class Window:
    """A usage window: from its first call's hour, session_length hours; or a gap between two.

    A window kept in the store has its token count but no usage until it
    is priced; one built from its calls here has their rows.
    """

    __slots__ = ("start", "end", "first", "last", "tokens", "calls", "usage", "models", "rows", "is_gap",
                 "limit_hit", "weekly_hit", "reset_at")

    def __init__(self, start, end, is_gap=False):
        self.start, self.end, self.is_gap = start, end, is_gap
        self.first = self.last = None
        self.tokens = self.calls = 0
        self.usage = None
        self.models = set()
        self.rows = []
        self.limit_hit = self.weekly_hit = False
        self.reset_at = None

    def is_active(self, now_ms, length_ms):
        return not self.is_gap and now_ms < self.resets_at() and now_ms - self.last < length_ms

    def resets_at(self):
        """When the window ends: a limit message's reset moment wins over the computed end."""
        return self.end if self.reset_at is None else self.reset_at

    def add(self, row):
        self.last = row[W_TS]
        self.rows.append(row)
        self.calls += 1
        self.tokens += row[W_INPUT] + row[W_OUTPUT] + row[W_CACHE_5M] + row[W_CACHE_1H] + row[W_CACHE_READ]


def replay_windows(rows, resets, length_ms):
    """The windows of calls (WINDOW_ROW tuples, oldest first) and limit messages, as the npm ccusage makes them.

    A window starts at its first call's time floored to the hour (UTC) and
    lasts length_ms; the next starts at the first call after its end (or
    after the reset a limit message named), or after a silence longer than
    length_ms.  The first row must be a window's first call.
    """
    windows = []
    current = None
    pending = 0
    for row in rows:
        ts = row[W_TS]
        while pending < len(resets) and resets[pending][0] <= ts:
            _note_limit(current, *resets[pending])
            pending += 1
        if current is None or ts > current.resets_at() or ts - current.last > length_ms:
            current = Window(ts - ts % HOUR_MS, ts - ts % HOUR_MS + length_ms)
            current.first = ts
            windows.append(current)
        current.add(row)
    for reset in resets[pending:]:
        _note_limit(current, *reset)
    return windows


def _note_limit(window, ts, reset_at):
    """A limit message at ts: the moment it names ends its window, which hit the limit.

    A reset further away than a window lasts is the weekly limit's: the
    window hit that one, and its own end stands.
    """
    if window is not None and window.start <= ts < window.end:
        if reset_at - ts > window.end - window.start:
            window.weekly_hit = True
        else:
            window.limit_hit = True
            window.reset_at = reset_at


def with_gaps(windows, length_ms):
    """windows with a gap row wherever calls fell silent for longer than a window."""
    shown = []
    for window in windows:
        if shown and window.first - shown[-1].last > length_ms:
            shown.append(Window(shown[-1].last + length_ms, window.first, is_gap=True))
        shown.append(window)
    return shown


def load_windows(query, length_ms):
    """Every window of the query's calls, oldest first, without gaps.

    The windows before the last are kept in the store; only the calls from
    the last kept window's end on (or from where a later write changed
    something) are gone through again, and the new final windows kept.
    """
    conn, mask = query.conn, query.roots_mask
    conn.execute("BEGIN")
    try:
        generation = conn.execute("SELECT value FROM generation").fetchone()[0]
        state = conn.execute("SELECT generation, changed_from FROM window_state WHERE roots = ? AND length_ms = ?",
                             (mask, length_ms)).fetchone()
        kept = []
        if state is not None:
            kept = [_kept_window(row, length_ms) for row in conn.execute(
                "SELECT first, start, last, reset_at, limit_hit, calls, tokens FROM windows "
                "WHERE roots = ? AND length_ms = ? ORDER BY first", (mask, length_ms))]
        stale = state is None or state[1] is not None
        if state is not None and state[1] is not None:
            # Replay from the window that was open when the earliest change happened.
            while kept and kept[-1].first >= state[1]:
                kept.pop()
            if kept:
                kept.pop()
        since = kept[-1].last + 1 if kept else None
        rows = list(query.calls_in_order(since))
        resets = [reset for reset in query.limit_resets() if since is None or reset[0] >= since]
    finally:
        conn.execute("COMMIT")
    replayed = replay_windows(rows, resets, length_ms)
    if stale or len(replayed) > 1:
        _keep_windows(conn, mask, length_ms, generation, kept[-1].first if kept else None, replayed[:-1])
    return kept + replayed


# A kept window's limit_hit holds bits: the 5-hour limit's hit, and the weekly limit's.
LIMIT_HIT, WEEKLY_HIT = 1, 2


def project_windows(query, length_ms, project):
    """The windows of one project's calls alone, built from them (none are kept for a project)."""
    return replay_windows(list(query.calls_in_order(project=project)), query.limit_resets(), length_ms)


def windows_starting_between(windows, since, until, tz):
    """The windows that start on the days from since to until (either None: open-ended), in zone tz."""
    low = day_start_ms(since, tz) if since is not None else None
    high = day_end_ms(until, tz) if until is not None else None
    return [w for w in windows if (low is None or w.start >= low) and (high is None or w.start < high)]


def _kept_window(row, length_ms):
    first, start, last, reset_at, limit_hit, calls, tokens = row
    window = Window(start, start + length_ms)
    window.first, window.last, window.reset_at = first, last, reset_at
    window.limit_hit, window.weekly_hit = bool(limit_hit & LIMIT_HIT), bool(limit_hit & WEEKLY_HIT)
    window.calls, window.tokens = calls, tokens
    return window


def _keep_windows(conn, mask, length_ms, generation, after, windows):
    """Keep final windows in the store (those after first time `after` replaced), if nothing changed meanwhile."""
    def write(conn):
        if conn.execute("SELECT value FROM generation").fetchone()[0] != generation:
            return
        conn.execute("DELETE FROM windows WHERE roots = ? AND length_ms = ? AND first > ?",
                     (mask, length_ms, -1 if after is None else after))
        conn.executemany("INSERT INTO windows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         [(mask, length_ms, w.first, w.start, w.last, w.reset_at,
                           LIMIT_HIT * w.limit_hit | WEEKLY_HIT * w.weekly_hit, w.calls, w.tokens) for w in windows])
        conn.execute("INSERT OR REPLACE INTO window_state VALUES (?, ?, ?, NULL)", (mask, length_ms, generation))
    write_unless_busy(conn, write)


def price_windows(query, windows):
    """Give every window its priced usage and models: from its rows, or from the calls its times span."""
    outer = query.begin_pass()
    try:
        _price_windows(query, windows)
    finally:
        query.end_pass(outer)


def _price_windows(query, windows):
    kept = {w.first: w for w in windows if w.usage is None and not w.rows and not w.is_gap}
    if kept:
        parts = {}
        sql = (f"SELECT w.first, c.model_id, c.fast, c.us_geo, {BAND_SQL}, {query.era_sql('c.ts')}, "
               "c.cost_usd IS NOT NULL, count(*), sum(c.input), sum(c.output), sum(c.cache_write_5m), "
               "sum(c.cache_write_1h), sum(c.cache_read), sum(c.web_searches), total(c.cost_usd), min(c.ts), "
               "max(c.ts) FROM windows w JOIN calls c ON c.ts BETWEEN w.first AND w.last "
               f"WHERE w.roots = ? AND w.length_ms = ? AND (c.roots & ?) != 0 "
               f"AND w.first BETWEEN ? AND ? GROUP BY 1, 2, 3, 4, 5, 6, 7")
        lengths = {w.end - w.start for w in kept.values()}
        for length_ms in lengths:
            for row in query.conn.execute(sql, (query.roots_mask, length_ms, query.roots_mask,
                                                min(kept), max(kept))):
                if row[0] in kept:
                    parts.setdefault(row[0], []).append(row[1:])
        for first, window in kept.items():
            total = Usage()
            for part_row in parts.get(first, ()):
                part = Usage()
                (part.calls, part.input, part.output, part.cache_write_5m, part.cache_write_1h, part.cache_read,
                 part.web_searches, logged_cost, part.first, part.last) = part_row[6:]
                query.price(part, *part_row[:6], logged_cost)
                total.add(part)
                window.models.add(query.model_name(part_row[0]))
            window.usage = total
    for window in windows:
        if window.usage is None and not window.is_gap:
            window.usage = price_calls(query, window.rows)
            window.models = {query.model_name(row[W_MODEL]) for row in window.rows}
        elif window.is_gap:
            window.usage = Usage()


def window_sources(query, windows):
    """{window's first call: the names of the sources that saw its calls} of the windows that are not gaps."""
    found = {}
    for window in windows:
        if not window.is_gap:
            roots = 0
            for (bits,) in query.conn.execute(
                    f"SELECT DISTINCT roots FROM calls WHERE ts BETWEEN ? AND ? AND (roots & {query.roots_mask}) != 0",
                    (window.first, window.last)):
                roots |= bits
            found[window.first] = query.source_list(roots)
    return found


def price_calls(query, rows):
    """The priced Usage of calls as calls_in_order gives them."""
    outer = query.begin_pass()
    try:
        return _price_calls(query, rows)
    finally:
        query.end_pass(outer)


def _price_calls(query, rows):
    parts = {}
    for row in rows:
        key = row[W_PRICE_KEY]
        part = parts.get(key)
        if part is None:
            part = parts[key] = [Usage(), 0.0]
        usage = part[0]
        usage.calls += 1
        usage.input += row[W_INPUT]
        usage.output += row[W_OUTPUT]
        usage.cache_write_5m += row[W_CACHE_5M]
        usage.cache_write_1h += row[W_CACHE_1H]
        usage.cache_read += row[W_CACHE_READ]
        usage.web_searches += row[W_SEARCHES]
        part[1] += row[W_COST] or 0.0
    total = Usage()
    for key, (usage, logged_cost) in parts.items():
        query.price(usage, *key, logged_cost)
        total.add(usage)
    if rows:
        total.first, total.last = rows[0][W_TS], rows[-1][W_TS]
    return total


def percentile(values, fraction):
    """The fraction-th percentile of values, interpolated between the nearest ranks."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class Limit:
    """A token limit for a window and how it was arrived at."""

    def __init__(self, tokens, basis, official=False):
        self.tokens, self.basis, self.official = tokens, basis, official


def resolve_limit(settings, windows, now_ms, length_ms, learned=None):
    """The limit a window is measured against, from the settings or the user's own history.

    learned: a Limit calibrated on official figures, which plan auto prefers.
    """
    past = [w.tokens for w in windows if not w.is_gap and not w.is_active(now_ms, length_ms)]
    limit, plan = settings.token_limit, settings.plan
    if limit == "max":
        return Limit(max(past), f"the largest of {len(past)} past windows") if past else Limit(
            None, "no past window to take the largest of")
    if limit is not None:
        return Limit(limit, "your limit")
    if plan in PLAN_ESTIMATES:
        return Limit(PLAN_ESTIMATES[plan], f"estimate for {PLAN_NAMES[plan]}: Anthropic publishes no token limits")
    if plan == "custom":
        raise CcusageError("plan custom needs a token limit: set token_limit or pass --token-limit", EXIT_USAGE)
    if learned is not None:
        return learned
    hit = [w.tokens for w in windows if w.limit_hit and not w.is_active(now_ms, length_ms)]
    if hit:
        return Limit(round(percentile(hit, 0.9)), f"90th percentile of {len(hit)} windows that hit the limit")
    if past:
        return Limit(round(percentile(past, 0.9)), f"90th percentile of {len(past)} past windows "
                                                   "(none hit the limit)")
    return Limit(None, "no limit known: set a plan or a token limit")


class WindowStatus:
    """Where the active window stands: use, limit, pace and when it runs out."""

    def __init__(self, query, window, limit, now_ms, official, weekly):
        self.window = window
        self.limit = limit
        self.now = now_ms
        self.official = official
        self.weekly = weekly
        span_start = max(window.start, now_ms - BURN_SPAN_MINUTES * MINUTE_MS)
        self.span_minutes = max((now_ms - span_start) / MINUTE_MS, 1.0)
        recent = price_calls(query, [row for row in window.rows if row[W_TS] >= span_start])
        self.tokens_per_minute = recent.total_tokens / self.span_minutes
        self.io_tokens_per_minute = (recent.input + recent.output) / self.span_minutes
        self.cost_per_hour = recent.cost / self.span_minutes * 60
        used = window.tokens
        self.resets_at = window.resets_at()
        self.limit_at = None
        self.prediction = None
        if limit.tokens:
            remaining = limit.tokens - used
            if remaining <= 0:
                self.limit_at = window.last
            elif self.tokens_per_minute > 0:
                self.limit_at = now_ms + int(remaining / self.tokens_per_minute * MINUTE_MS)

    @property
    def percent_used(self):
        if self.official:
            return self.official[1]
        if self.limit.tokens:
            return 100.0 * self.window.tokens / self.limit.tokens
        return None

    @property
    def reached(self):
        percent = self.percent_used
        return percent is not None and percent >= 100

    @property
    def before_reset(self):
        return self.limit_at is not None and self.limit_at < self.resets_at


def current_status(query, settings, now_ms):
    """(status of the active window or None, every window, the limit, the weekly figure) for status and blocks.

    Only the last windows are built from their calls (the others come kept
    from the store), and only those shown need pricing (price_windows).
    """
    length_ms = int(settings.session_length * HOUR_MS)
    windows = load_windows(query, length_ms)
    learned = learned_limit(query, windows, now_ms, length_ms) \
        if settings.plan == "auto" and settings.token_limit is None else None
    limit = resolve_limit(settings, windows, now_ms, length_ms, learned)
    official = query.rate_limits()
    five_hour = official.get("five_hour")
    seven_day = official.get("seven_day")
    five_hour = five_hour if five_hour and five_hour[2] > now_ms else None
    seven_day = seven_day if seven_day and seven_day[2] > now_ms else None
    active = [w for w in windows[-1:] if w.is_active(now_ms, length_ms)]
    if not active:
        return None, windows, limit, seven_day
    window = active[-1]
    price_windows(query, [window])
    if five_hour:
        used = window.tokens
        implied = round(used * 100 / five_hour[1]) if five_hour[1] > 0 else None
        limit = Limit(implied, "implied by the official figure", official=True)
        window.reset_at = five_hour[2]
    status = WindowStatus(query, window, limit, now_ms, five_hour, seven_day)
    if five_hour:
        status.prediction = predict_official_limit(official_series(query, "five_hour", five_hour[2]),
                                                   now_ms, five_hour[2])
        if status.prediction.at is not None or status.prediction.span_ms:
            status.limit_at = status.prediction.at
    return status, windows, limit, seven_day


def segment_facts(query, settings, now_ms):
    """What a prompt segment or a status line shows, as plain data: it is kept as the last known.

    Costs of today, this week and this month; the active window's use,
    pace and reset; the latest official figures (ms times throughout).
    """
    tz = query.tz
    today = datetime.fromtimestamp(now_ms / 1000, tz).date()
    week_start = first_day_of_week(today, WEEKDAYS.index(settings.start_of_week))
    month_start = today.replace(day=1)
    days = {row.key: row.total.cost for row in
            period_report(query, "daily", Filters(min(week_start, month_start), today), 0, False)}

    def cost_since(day):
        return sum(cost for key, cost in days.items() if key >= day.isoformat())

    status, _, _, weekly = current_status(query, settings, now_ms)
    facts = {"at": now_ms, "today_cost": cost_since(today), "week_cost": cost_since(week_start),
             "month_cost": cost_since(month_start), "window": None, "five_hour": None,
             "seven_day": list(weekly) if weekly else None, "model": None}
    if status is not None:
        window = status.window
        facts["window"] = {"start": window.start, "last": window.last, "resets_at": status.resets_at,
                           "tokens": window.tokens, "cost": window.usage.cost,
                           "percent": None if status.official else status.percent_used,
                           "cost_per_hour": status.cost_per_hour,
                           "limit_at": status.limit_at if status.before_reset else None}
        facts["five_hour"] = list(status.official) if status.official else None
        facts["model"] = query.model_name(window.rows[-1][W_MODEL])
    return facts


# The official percentage's rate is measured over at most this much of its latest captures.
PREDICTION_SPAN_MS = 30 * MINUTE_MS
# Below this percentage an official figure is mostly rounding: it calibrates nothing.
CALIBRATION_MIN_PERCENT = 5.0


class OfficialPrediction:
    """When the official percentage reaches 100%, from its rate over span_ms of captures (at None: not before
    the reset, or no rate to tell: span_ms 0)."""

    def __init__(self, at, span_ms, points, rate_per_hour):
        self.at, self.span_ms, self.points, self.rate_per_hour = at, span_ms, points, rate_per_hour


def predict_official_limit(series, now_ms, resets_at_ms, span_ms=PREDICTION_SPAN_MS):
    """Fit a line to the official percentages of series [(captured ms, percent)] of the last span_ms.

    The moment the line reaches 100% is the prediction; past the reset, or
    with a rate that is not rising, there is none (at None).  Fewer than two
    captures at different moments give no rate: span_ms 0.
    """
    points = [(t, p) for t, p in series if now_ms - span_ms <= t <= now_ms]
    if len(points) < 2 or points[-1][0] == points[0][0]:
        return OfficialPrediction(None, 0, len(points), None)
    mean_t = sum(t for t, _ in points) / len(points)
    mean_p = sum(p for _, p in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    slope = sum((t - mean_t) * (p - mean_p) for t, p in points) / spread
    span = points[-1][0] - points[0][0]
    rate = slope * HOUR_MS
    if points[-1][1] >= 100:
        return OfficialPrediction(points[-1][0], span, len(points), rate)
    if slope <= 0:
        return OfficialPrediction(None, span, len(points), rate)
    at = int(mean_t + (100 - mean_p) / slope)
    at = max(at, points[-1][0])
    return OfficialPrediction(at if at < resets_at_ms else None, span, len(points), rate)


def calibrate_limit(pairs, hits):
    """(tokens, USD) a 5-hour window allows, learned from official figures, or None.

    pairs: [(tokens, cost, official percent)] counted in a window when its
    percentage was captured; hits: [(tokens, cost)] of windows that ended in
    a limit message (100%).  Each says what 100% is; the median of them
    stands against the odd capture taken as a window turned over.
    """
    tokens = [t * 100 / p for t, _, p in pairs if p >= CALIBRATION_MIN_PERCENT and t > 0]
    costs = [c * 100 / p for _, c, p in pairs if p >= CALIBRATION_MIN_PERCENT and c > 0]
    tokens += [t for t, _ in hits if t > 0]
    costs += [c for _, c in hits if c > 0]
    if not tokens:
        return None
    return round(percentile(tokens, 0.5)), (percentile(costs, 0.5) if costs else None)


def official_series(query, window, resets_at_ms):
    """[(captured ms, percent)] of the official window that resets at resets_at_ms, oldest first."""
    return query.conn.execute(
        "SELECT captured_at, used_percentage FROM rate_limits WHERE window = ? AND resets_at BETWEEN ? AND ? "
        "ORDER BY captured_at", (window, resets_at_ms // 1000 - 60, resets_at_ms // 1000 + 60)).fetchall()


def calibration_pairs(query, windows):
    """The (tokens, cost, percent) of each window with an official figure: its last capture, and what the
    window had counted by then."""
    captures = query.conn.execute(
        "SELECT captured_at, used_percentage, resets_at FROM rate_limits WHERE window = 'five_hour' "
        "ORDER BY captured_at").fetchall()
    pairs = []
    if not captures:
        return pairs
    import bisect
    times = [c[0] for c in captures]
    for window in windows:
        if window.is_gap:
            continue
        end = min(window.resets_at(), window.end)
        last = bisect.bisect_left(times, end) - 1
        if last < 0 or times[last] < window.start:
            continue
        captured, percent, _ = captures[last]
        rows = []
        for row in query.calls_in_order(window.first):
            if row[W_TS] > captured:
                break
            rows.append(row)
        usage = price_calls(query, rows)
        pairs.append((usage.total_tokens, usage.cost, percent))
    return pairs


def learned_limit(query, windows, now_ms, length_ms):
    """The Limit calibrated on the official figures and the limit hits of past windows, or None."""
    past = [w for w in windows if not w.is_gap and not w.is_active(now_ms, length_ms)]
    pairs = calibration_pairs(query, past)
    if not pairs:
        return None
    hit = [w for w in past if w.limit_hit]
    price_windows(query, hit)
    learned = calibrate_limit(pairs, [(w.tokens, w.usage.cost) for w in hit])
    tokens, cost = learned
    sources = [f"{len(pairs)} official figure{'s' * (len(pairs) != 1)}"]
    if hit:
        sources.append(f"{len(hit)} limit hit{'s' * (len(hit) != 1)}")
    cost_text = f", about ${cost:,.2f} a window" if cost else ""
    return Limit(tokens, f"learned from {' and '.join(sources)}{cost_text}")


TIERS = ("opus", "sonnet", "haiku")
# The names model_tier's tiers are shown by, in their order on a tie.
TIER_NAMES = {"opus": "Opus", "sonnet": "Sonnet", "haiku": "Haiku", "other": "other"}


def model_tier(model_id):
    """opus, sonnet, haiku or other: the family of a logged model id."""
    name = canonical_model(model_id)[0]
    return next((tier for tier in TIERS if tier in name), "other")


class ExportRow:
    """A row of `export`: one call (time, session), or the calls of a period (calls > 1 possible)."""

    __slots__ = ("ts", "session", "project", "model", "usage")

    def __init__(self, ts, session, project, model, usage):
        self.ts, self.session, self.project, self.model, self.usage = ts, session, project, model, usage


def export_calls(query, filters):
    """Every call filters cover as an ExportRow, oldest first, each priced as the reports price it."""
    where, params = query._where(filters, "ts")
    # The names are joined in, not looked up: one statement reads one state of the store (and the
    # model names query.price reads while it runs, the same).
    for row in query.conn.execute(
            f"SELECT ts, session_name, project_path, model_id, fast, us_geo, {BAND_SQL}, {query.era_sql()}, "
            "cost_usd IS NOT NULL, input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, "
            "cost_usd, roots FROM calls "
            "JOIN (SELECT id AS sid, session_id AS session_name FROM sessions) ON sid = session_id "
            "JOIN (SELECT id AS pid, path AS project_path FROM projects) ON pid = project_id "
            f"WHERE {where} ORDER BY ts, key", params):
        usage = Usage()
        usage.calls = 1
        (usage.input, usage.output, usage.cache_write_5m, usage.cache_write_1h, usage.cache_read,
         usage.web_searches) = row[9:15]
        usage.first = usage.last = row[0]
        usage.roots = row[16]
        query.price(usage, *row[3:9], row[15] or 0.0)
        yield ExportRow(row[0], row[1], row[2], query.model_name(row[3]), usage)


def aggregate_export(rows, period, tz):
    """ExportRows summed per project, model and UTC hour (period "hour") or day in tz ("day").

    An hour row's time is its first millisecond; a day row's is its local
    midnight.  In order of time, project and model.
    """
    sums = {}
    for row in rows:
        if period == "hour":
            start = row.ts - row.ts % HOUR_MS
        else:
            start = local_midnight_ms(datetime.fromtimestamp(row.ts / 1000, tz).date(), tz)
        key = (start, row.project, row.model)
        usage = sums.get(key)
        if usage is None:
            usage = sums[key] = Usage()
        usage.add(row.usage)
    return [ExportRow(start, None, project, model, sums[(start, project, model)])
            for start, project, model in sorted(sums)]


def usage_by_project_model(query, filters):
    """{(project path, model name): priced Usage} of the calls filters cover."""
    projects = dict(query.conn.execute("SELECT id, path FROM projects"))
    return {(projects[project_id], query.model_name(model_id)): usage
            for (project_id, model_id), usage in query.grouped(["project"], filters).items()}


def unpriced_calls(parts):
    """{model name: calls without a price} of (model name, Usage) pairs.

    What one output shows, where query.unpriced_models has every sum the
    query priced: a command that also sums the windows would count their calls twice.
    """
    counts = {}
    for model, usage in parts:
        if usage.unpriced:
            counts[model] = counts.get(model, 0) + usage.unpriced
    return counts


# The latency percentiles `models` gives, by the nearest-rank method: the
# p-th is the latency at rank ceil(p% of n) of the n latencies in ascending
# order, so always one a request took, never one made up between two.
LATENCY_PERCENTILES = (50, 95, 99)


def nearest_rank(latencies, percent):
    """The percent-th percentile of latencies {ms: requests that took it} by nearest rank, or None of none."""
    total = sum(latencies.values())
    if not total:
        return None
    rank = max(1, -(-percent * total // 100))
    for value in sorted(latencies):
        rank -= latencies[value]
        if rank <= 0:
            return value
    return None


class RequestStats:
    """What request logs say of a set of requests: how many, how many failed and succeeded, how long they took.

    latencies: {ms: requests that took it} of those that logged a latency.
    A request whose log says nothing of its outcome is in neither failed
    nor succeeded, nor in the success rate.  roots: as Usage's.
    """

    __slots__ = ("requests", "failed", "succeeded", "latencies", "roots")

    def __init__(self):
        self.requests = self.failed = self.succeeded = self.roots = 0
        self.latencies = {}

    def add(self, other):
        self.roots |= other.roots
        self.requests += other.requests
        self.failed += other.failed
        self.succeeded += other.succeeded
        for value, count in other.latencies.items():
            self.latencies[value] = self.latencies.get(value, 0) + count

    @property
    def success_rate(self):
        """The share of the requests with a known outcome that succeeded (1 is all), or None."""
        known = self.failed + self.succeeded
        return self.succeeded / known if known else None

    def percentiles(self):
        """[the LATENCY_PERCENTILES of the latencies, None of none]."""
        return [nearest_rank(self.latencies, percent) for percent in LATENCY_PERCENTILES]


def request_stats(query, filters):
    """{(model name, agent or None): RequestStats} of the requests in the days filters cover, of the roots in use.

    A request belongs to no project: filters' project narrows nothing here.
    """
    where, params = query._where(Filters(filters.since, filters.until), "ts")
    roots, groups = ("roots", "1, 2, 3, 4") if query.several_sources else ("0", "1, 2, 3")
    stats = {}
    # One statement, one state of the store: counts per latency, NULL among them, in the
    # order of the index requests_by_model (no sorting).
    for model_id, agent, latency, bits, requests, failed, succeeded in query.conn.execute(
            f"SELECT model_id, agent, latency_ms, {roots}, count(*), sum(ok IS 0), sum(ok IS 1) "
            f"FROM requests WHERE {where} GROUP BY {groups}", params):
        key = (query.model_name(model_id), agent)
        part = stats.get(key)
        if part is None:
            part = stats[key] = RequestStats()
        part.roots |= bits
        part.requests += requests
        part.failed += failed
        part.succeeded += succeeded
        if latency is not None:
            part.latencies[latency] = part.latencies.get(latency, 0) + requests
    return stats


class TierRow:
    """A row of `models`: a model tier's requests (of the request logs), and its calls (of every source)."""

    __slots__ = ("tier", "requests", "usage", "models")

    def __init__(self, tier):
        self.tier = tier
        self.requests = RequestStats()
        self.usage = Usage()
        self.models = set()


def model_report(query, filters):
    """(TierRows in TIER_NAMES order; {(agent or None, tier): RequestStats}) of what filters cover.

    Only tiers with a request or a call have a row.
    """
    rows = {tier: TierRow(tier) for tier in TIER_NAMES}
    agents = {}
    for (model, agent), part in request_stats(query, filters).items():
        row = rows[model_tier(model)]
        row.requests.add(part)
        row.models.add(model)
        agents.setdefault((agent, row.tier), RequestStats()).add(part)
    for (model_id,), usage in query.grouped([], filters).items():
        model = query.model_name(model_id)
        row = rows[model_tier(model)]
        row.usage.add(usage)
        row.models.add(model)
    return [row for row in rows.values() if row.requests.requests or row.usage.calls], agents


class WindowFigures:
    """The current window as `serve` and the Prometheus gauges give it (None: not known).

    percent_estimated measures the window against the limit the settings or
    the history give; percent_official is Claude Code's own figure.
    """

    def __init__(self):
        self.active = False
        self.start = self.resets_at = None
        self.usage = Usage()
        self.percent_estimated = self.percent_official = None
        self.tokens_per_minute = self.cost_per_hour = None
        self.weekly_percent = self.weekly_resets_at = None


def active_window_figures(query, settings, now_ms):
    """WindowFigures at now_ms, from the windows current_status builds."""
    figures = WindowFigures()
    status, windows, limit, weekly = current_status(query, settings, now_ms)
    if weekly:
        figures.weekly_percent, figures.weekly_resets_at = weekly[1], weekly[2]
    if status is None:
        return figures
    window = status.window
    figures.active = True
    figures.start, figures.resets_at = window.start, status.resets_at
    figures.usage = window.usage
    figures.tokens_per_minute, figures.cost_per_hour = status.tokens_per_minute, status.cost_per_hour
    if status.official:
        figures.percent_official = status.official[1]
        limit = resolve_limit(settings, windows, now_ms, int(settings.session_length * HOUR_MS))
    if limit.tokens and not limit.official:
        figures.percent_estimated = 100.0 * window.usage.total_tokens / limit.tokens
    return figures


def store_activity(query):
    """(sessions with calls, (time, session id, project path) of the latest call or None)."""
    where, params = query._where(Filters(), "ts")
    count = query.conn.execute(f"SELECT count(DISTINCT session_id) FROM calls WHERE {where}", params).fetchone()[0]
    latest = query.conn.execute(
        f"SELECT ts, sessions.session_id, projects.path FROM (SELECT ts, session_id AS sid FROM calls "
        f"WHERE {where} ORDER BY ts DESC LIMIT 1) JOIN sessions ON sessions.id = sid "
        "JOIN projects ON projects.id = sessions.project_id", params).fetchone()
    return count, latest


def prune_plan(query, before_ms):
    """[(day, model name, calls, tokens)] of the store's calls before before_ms, by day in the query's zone."""
    conn = query.conn
    first = conn.execute("SELECT min(ts) FROM calls WHERE ts < ?", (before_ms,)).fetchone()[0]
    if first is None:
        return []
    day = local_day_sql(offset_segments(query.tz, first, before_ms), "ts")
    rows = conn.execute(f"SELECT {day}, model_id, count(*), "
                        "sum(input + output + cache_write_5m + cache_write_1h + cache_read) "
                        "FROM calls WHERE ts < ? GROUP BY 1, 2", (before_ms,)).fetchall()
    return sorted((day_of_number(number), query.model_name(model_id), calls, tokens)
                  for number, model_id, calls, tokens in rows)


# -- budgets and the period summary --
#
# They read the store only through the six functions just below, which use
# the reports' and the windows' own queries.

def usage_between(query, first_day, last_day, project=None):
    """The priced Usage of the local days first_day to last_day (inclusive), of one project or all."""
    total = Usage()
    for row in period_report(query, "daily", Filters(first_day, last_day, project), 0, False):
        total.add(row.total)
    return total


def rows_by_project(query, first_day, last_day):
    """ReportRows of the days first_day to last_day, one per project and day."""
    return period_report(query, "daily", Filters(first_day, last_day), 0, True)


def sessions_between(query, first_day=None, last_day=None, project=None):
    """ReportRows of the sessions, each with its calls in the days given (all days when None)."""
    return session_report(query, Filters(first_day, last_day, project))


def official_five_hour(query):
    """The latest official 5-hour figure recorded: (captured at ms, used percentage, resets at ms), or None."""
    return query.rate_limits().get("five_hour")


def windows_between(query, settings, first_day, last_day, now_ms):
    """(the priced windows with calls in the local days first_day to last_day, the window limit,
    whether any window ever hit the limit)."""
    _, every, limit, _ = current_status(query, settings, now_ms)
    lo = local_midnight_ms(first_day, query.tz)
    hi = local_midnight_ms(last_day + timedelta(days=1), query.tz)
    windows = [w for w in every if not w.is_gap and w.start < hi and w.last >= lo]
    price_windows(query, windows)
    return windows, limit, any(w.limit_hit for w in every)


def month_end(day):
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


THRESHOLDS = (80, 100)


def threshold_state(percent, thresholds=THRESHOLDS):
    """'ok', 'warning' (from thresholds[0] percent of a limit) or 'over' (from thresholds[1]): how every
    view colours a share of a limit, as THRESHOLD_STYLES says."""
    if percent is None or percent < thresholds[0]:
        return "ok"
    return "warning" if percent < thresholds[1] else "over"


BUDGET_STATES = ("ok", "warning", "exceeded")


class BudgetState:
    """Where a budget stands: used of its limit; ok, warning, exceeded, or unknown when nothing tells."""

    def __init__(self, budget, used, note=""):
        self.budget, self.used, self.note = budget, used, note

    @property
    def percent(self):
        return None if self.used is None else self.used * 100 / self.budget.limit

    @property
    def state(self):
        percent = self.percent
        if percent is None:
            return "unknown"
        # Rounded so that a cost summed in binary fractions meets a threshold it equals.
        percent = round(percent, 9)
        return {"over": "exceeded"}.get(threshold_state(percent, (self.budget.threshold, 100)),
                                        threshold_state(percent, (self.budget.threshold, 100)))


def worst_state(states):
    """The worst of ok, warning and exceeded among the budget states (unknown counts as ok)."""
    ranks = [BUDGET_STATES.index(s.state) for s in states if s.state in BUDGET_STATES]
    return BUDGET_STATES[max(ranks, default=0)]


def evaluate_budgets(query, settings, now_ms, period=None):
    """A BudgetState per budget: as of now_ms, or (period: first and last day) as of the period's end.

    For a period the session budget measures the dearest session's calls in
    it, and the window budgets the largest of its windows; official figures
    are only current, so the percent budgets then say unknown.
    """
    budgets = settings.budgets.budgets
    start_index = WEEKDAYS.index(settings.start_of_week)
    as_of = datetime.fromtimestamp(now_ms / 1000, query.tz).date() if period is None else period[1]
    starts = {"daily": as_of, "weekly": first_day_of_week(as_of, start_index), "monthly": as_of.replace(day=1)}
    length_ms = int(settings.session_length * HOUR_MS)
    if any(b.kind.startswith(("window", "seven")) for b in budgets):
        if period is None:
            status, _, limit, seven_day = current_status(query, settings, now_ms)
        else:
            windows, limit, _ = windows_between(query, settings, period[0], period[1], now_ms)
    results = []
    for budget in budgets:
        kind = budget.kind
        if budget.project is not None and not query.project_ids(budget.project):
            results.append(BudgetState(budget, 0.0, "no project of this name has calls yet"))
        elif kind in starts:
            used = usage_between(query, starts[kind], as_of, budget.project).cost
            results.append(BudgetState(budget, used, f"since {starts[kind]}" if kind != "daily" else ""))
        elif kind == "session":
            if period is None:
                rows = [r for r in sessions_between(query, project=budget.project)
                        if now_ms - r.total.last < length_ms]
            else:
                rows = sessions_between(query, period[0], period[1], budget.project)
            dearest = max(rows, key=lambda r: r.total.cost, default=None)
            results.append(BudgetState(budget, dearest.total.cost if dearest else 0.0,
                                       f"session {dearest.session[:8]}" if dearest else "no session going"))
        elif period is not None:
            results.append(_period_window_budget(budget, windows, limit))
        else:
            results.append(_window_budget(budget, status, limit, seven_day))
    return results


def _window_budget(budget, status, limit, seven_day):
    """The state now of a budget on the current 5-hour window or the official 7-day figure."""
    if budget.kind == "seven_day_percent":
        if seven_day is None:
            return BudgetState(budget, None, "no official 7-day figure recorded")
        return BudgetState(budget, seven_day[1], "official")
    if status is None:
        return BudgetState(budget, 0, "no active window")
    usage = status.window.usage
    if budget.kind == "window_tokens":
        return BudgetState(budget, usage.total_tokens)
    if budget.kind == "window_cost":
        return BudgetState(budget, usage.cost)
    if status.official:
        return BudgetState(budget, status.percent_used, "official")
    if status.percent_used is None:
        return BudgetState(budget, None, limit.basis)
    return BudgetState(budget, status.percent_used, f"estimated: {limit.basis}")


def _period_window_budget(budget, windows, limit):
    """The state of a window budget in a past period: its largest window's."""
    if budget.kind == "seven_day_percent":
        return BudgetState(budget, None, "official figures are only current")
    if not windows:
        return BudgetState(budget, 0, "no window")
    if budget.kind == "window_cost":
        return BudgetState(budget, max(w.usage.cost for w in windows), "the dearest window")
    tokens = max(w.usage.total_tokens for w in windows)
    if budget.kind == "window_tokens":
        return BudgetState(budget, tokens, "the largest window")
    if not limit.tokens:
        return BudgetState(budget, None, limit.basis)
    return BudgetState(budget, tokens * 100 / limit.tokens, f"the largest window, estimated: {limit.basis}")


def plan_price(settings):
    """(US dollars a month the plan costs, where that figure comes from), or (None, why not)."""
    if settings.plan_price is not None:
        return settings.plan_price, "your plan_price"
    if settings.plan in PLAN_LIST_PRICES:
        return PLAN_LIST_PRICES[settings.plan], f"Anthropic's list price of {PLAN_NAMES[settings.plan]}"
    return None, "set plan (pro, max5, max20) or plan_price to compare"


# A month's share of a year, for a plan's price of a day or a week.
DAYS_PER_MONTH = 365.25 / 12
TOP_SESSIONS = 5


def summary_period(kind, anchor, today, start_index):
    """(first, last day) of the day, week or month kind: the one holding anchor, else the last before today."""
    if kind == "day":
        day = anchor or today - timedelta(days=1)
        return day, day
    if kind == "week":
        first = first_day_of_week(anchor or today - timedelta(days=7), start_index)
        return first, first + timedelta(days=6)
    first = (anchor or today.replace(day=1) - timedelta(days=1)).replace(day=1)
    return first, month_end(first)


def previous_period(kind, first):
    if kind == "month":
        last = first - timedelta(days=1)
        return last.replace(day=1), last
    days = 1 if kind == "day" else 7
    return first - timedelta(days=days), first - timedelta(days=1)


class Summary:
    """What `report` says of a period: totals, where the cost went, windows, budgets, the change."""

    def __init__(self, kind, first, last, tz_name):
        self.kind, self.first, self.last, self.tz_name = kind, first, last, tz_name
        self.total = Usage()
        self.models = {}
        self.projects = {}
        self.sessions = []
        self.windows = []
        self.window_limit = None
        # Whether a window at the limit reached one: not when the limit is only a share of past windows.
        self.limit_is_known = False
        self.official = None
        self.budgets = []
        self.previous = None
        self.plan_price, self.plan_basis = None, ""

    @property
    def days(self):
        return (self.last - self.first).days + 1

    @property
    def plan_share(self):
        """What the plan costs for this period: its monthly price, or a share of it by days."""
        if self.plan_price is None:
            return None
        return self.plan_price if self.kind == "month" else self.plan_price * self.days / DAYS_PER_MONTH


def build_summary(query, settings, kind, first, last, tz_name, now_ms):
    summary = Summary(kind, first, last, tz_name)
    for row in rows_by_project(query, first, last):
        summary.total.add(row.total)
        summary.projects.setdefault(row.project, Usage()).add(row.total)
        for model, usage in row.models.items():
            summary.models.setdefault(model, Usage()).add(usage)
    if not summary.total.calls:
        return summary
    sessions = sessions_between(query, first, last)
    summary.sessions = sorted(sessions, key=lambda r: (-r.total.cost, r.key))[:TOP_SESSIONS]
    summary.windows, summary.window_limit, limits_hit = windows_between(query, settings, first, last, now_ms)
    summary.limit_is_known = isinstance(settings.token_limit, int) or settings.plan in PLAN_ESTIMATES or limits_hit
    summary.official = official_five_hour(query)
    summary.budgets = evaluate_budgets(query, settings, now_ms, period=(first, last))
    before = previous_period(kind, first)
    summary.previous = (before, usage_between(query, *before))
    summary.plan_price, summary.plan_basis = plan_price(settings)
    return summary


def window_limit_reached(window, summary):
    """How a window of a summary reached its limit: the official figure at 100%, Claude Code's message,
    the estimate, or not at all (None)."""
    limit, official = summary.window_limit, summary.official
    if official and official[1] >= 100 and window.start <= official[0] < window.end:
        return "official"
    if window.limit_hit:
        return "limit message"
    if summary.limit_is_known and limit.tokens and not limit.official and window.usage.total_tokens >= limit.tokens:
        return "estimated"
    return None

# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------

# Control characters, the invisible ones that reorder or hide text, and lone
# surrogates (no encoding can write them).
_CONTROL = LazyPattern("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ud800-\udfff\ufeff]")


_JSON_UNSAFE = LazyPattern("[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ud800-\udfff\ufeff]")


def _escape(match):
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:
        # A byte that was not UTF-8, as Python decodes file names and arguments: shown as that byte.
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def clean(text):
    """Text from the logs or the user, safe for a terminal: control characters shown as escapes."""
    text = str(text)
    if text.isascii() and text.isprintable():
        return text
    return _CONTROL.sub(_escape, text)


def to_json(data, out):
    """JSON text for out whose strings carry no raw C1 control or bidi characters.

    Indented for a terminal; compact for a pipe, where the C encoder makes it
    several times quicker to produce.
    """
    import json
    text = json.dumps(data, indent=2 if out.isatty() else None, ensure_ascii=ascii_only(out))
    if text.isascii() and "\x7f" not in text:
        return text
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_line(data):
    """Compact JSON on one line (JSON lines, HTTP answers), escaped as to_json escapes."""
    import json
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(data, ensure_ascii=False))


def round_cost(value):
    return round(value, 6)


def json_cost(usage):
    """The cost for JSON: null when none of the calls has a price, never a $0 that is not one."""
    return None if usage.calls and usage.unpriced == usage.calls else round_cost(usage.cost)


def usage_json(usage):
    return {
        "inputTokens": usage.input,
        "outputTokens": usage.output,
        "cacheCreationTokens": usage.cache_write,
        "cacheReadTokens": usage.cache_read,
        "totalTokens": usage.total_tokens,
        "totalCost": json_cost(usage),
    }


def _models_by_cost(row):
    return sorted(row.models.items(), key=lambda item: (-item[1].cost, item[0]))


def breakdowns_json(row):
    parts = []
    for model, usage in _models_by_cost(row):
        entry = {"modelName": model}
        entry.update(usage_json(usage))
        del entry["totalTokens"], entry["totalCost"]
        entry["cost"] = json_cost(usage)
        parts.append(entry)
    return parts


def row_json(row, **labels):
    """A report row in the npm ccusage's fields, after the labels that say what it is."""
    entry = dict(labels)
    entry.update(usage_json(row.total))
    entry["modelsUsed"] = sorted(row.models)
    entry["modelBreakdowns"] = breakdowns_json(row)
    return entry


def session_json(row):
    return row_json(row, sessionId=row.session, projectPath=row.project,
                    firstActivity=_iso(row.total.first), lastActivity=_iso(row.total.last))


def _iso(ms):
    """UTC ISO 8601 with milliseconds, as the npm ccusage writes activity times."""
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def totals_json(rows, unpriced_models):
    total = Usage()
    for row in rows:
        total.add(row.total)
    entry = usage_json(total)
    if unpriced_models:
        entry["unpricedModels"] = sorted(unpriced_models)
    return entry


def ascii_only(stream):
    """Whether stream's encoding lacks the table's box-drawing characters: the one place that decides."""
    try:
        "─…".encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return True
    return False


def escape_unencodable(stream):
    """Make stream write what its encoding cannot hold as escapes (\\u2500), not raise."""
    if ascii_only(stream) and hasattr(stream, "reconfigure"):
        stream.reconfigure(errors="backslashreplace")


THRESHOLD_STYLES = {"ok": "32", "warning": "33", "over": "1;31"}


class Style:
    """ANSI styling, or none; and the rules and ellipsis a stream can carry."""

    def __init__(self, enabled, ascii_rules=False):
        self.enabled = enabled
        self.ascii = ascii_rules
        self.rule = "-" if ascii_rules else "─"
        self.ellipsis = "..." if ascii_rules else "…"

    def __call__(self, text, code):
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled and code else text

    def start(self, code):
        """The escape that turns code on (for text already inside a styled span)."""
        return f"\x1b[{code}m" if self.enabled and code else ""


def use_color(choice, stream):
    """Whether to colour: the setting already holds NO_COLOR and FORCE_COLOR."""
    if choice != "auto":
        return choice == "always"
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def wrap_words(words, width, indent=""):
    """words joined by spaces into lines of at most width, the later ones indented; a word is never
    broken unless it alone is wider than a line."""
    lines, line = [], None
    for word in words:
        if line is not None and len(line) + 1 + len(word) <= width:
            line += " " + word
            continue
        if line is not None:
            lines.append(line)
        line = (indent if lines else "") + word
    lines.append(line or "")
    return [part for line in lines for part in _cut(line, width, indent)]


def _cut(line, width, indent):
    while len(line) > width > len(indent):
        yield line[:width]
        line = indent + line[width:]
    yield line


def fmt_int(n):
    return f"{n:,}"


def fmt_count(count, one, many=None):
    """1 call, 2 calls, 1,000 calls (many: the plural, when it is not one + "s")."""
    return f"{count:,} {one if count == 1 else many or one + 's'}"


def fmt_compact(n):
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= size:
            return f"{n / size:.1f}{suffix}"
    return str(n)


def fmt_cost(usage):
    if usage.unpriced and usage.unpriced == usage.calls:
        return "?"
    return f"${usage.cost:,.2f}" + ("*" if usage.unpriced else "")


class Table:
    """A plain-text table that fits a width by giving things up in the order shrink names them.

    shrink: a column's index drops that column; NUMBERS abbreviates the
    numbers of compact_columns (1.2M).  What is still too wide after that is
    cut, in column cut (then in cut_next), to no fewer than cut_min
    characters (its texts end in an ellipsis, or begin in one with
    cut_start); cutting is preferred to giving up a column, not to
    abbreviating.  Row kinds: body,
    detail (dim), total (bold), rule (a line), section (one text across the
    table), gap (the same, dim).  A line under the table names the columns
    given up, but for the optional ones, shown only where there is room.
    """

    NUMBERS = "numbers"
    ROW_STYLES = {"total": "1;33", "detail": "2"}
    # What the note under the table offers for the columns given up.
    shown_by = "a wider terminal or --json"

    def __init__(self, headers, aligns, shrink=(), compact_columns=(), cut=None, optional=(), cut_min=8,
                 cut_start=False, cut_next=None):
        self.headers = headers
        self.aligns = aligns
        self.shrink = shrink
        self.compact_columns = compact_columns
        self.cut = cut
        self.optional = optional
        self.cut_min = cut_min
        self.cut_start = cut_start
        # The column cut (to no fewer than cut_min characters) when cutting cut is not enough.
        self.cut_next = cut_next
        self.rows = []

    def add(self, cells, kind="body", codes=None):
        """A row; codes: {column: ANSI style} for cells coloured on their own."""
        self.rows.append((cells, kind, codes or {}))

    def render(self, width, style):
        keep = list(range(len(self.headers)))
        source = self.rows
        if style.ascii:
            # Escaped here, not by the stream, so that the columns are measured as printed.
            source = [([_ascii(c) for c in cells], kind, codes) for cells, kind, codes in source]
        rows = source
        steps = list(self.shrink)
        while True:
            widths = [max([len(self.headers[i])] + [len(c[i]) for c, kind, _ in rows
                                                     if kind not in ("section", "gap")])
                      for i in keep]
            slack = max(widths[keep.index(self.cut)] - self.cut_min, 0) if self.cut in keep else 0
            needed = sum(widths) + 2 * (len(keep) - 1)
            if needed <= width or not steps or (steps[0] != self.NUMBERS and needed - slack <= width):
                break
            step = steps.pop(0)
            if step == self.NUMBERS:
                rows = [([_compact_cell(c, i, self.compact_columns) for i, c in enumerate(cells)], kind, codes)
                        for cells, kind, codes in source]
            else:
                keep.remove(step)
        overflow = sum(widths) + 2 * (len(keep) - 1) - width
        for cut in (self.cut, self.cut_next):
            if overflow > 0 and cut in keep:
                column = keep.index(cut)
                cut_to = min(widths[column], max(widths[column] - overflow, self.cut_min))
                overflow -= widths[column] - cut_to
                widths[column] = cut_to
        lines = []

        def line(cells, row_code=None, codes=None):
            parts = []
            for w, i in zip(widths, keep):
                text = cells[i]
                if len(text) > w:
                    keep_chars = max(w - len(style.ellipsis), 1)
                    text = (style.ellipsis + text[-keep_chars:] if self.cut_start and i == self.cut
                            else text[:keep_chars] + style.ellipsis)
                text = text.ljust(w) if self.aligns[i] == "<" else text.rjust(w)
                if codes and i in codes and text.strip():
                    # The text alone coloured, then the row's own style resumed.
                    start = len(text) - len(text.lstrip())
                    end = len(text.rstrip())
                    text = (text[:start] + style(text[start:end], codes[i]) + style.start(row_code)
                            + text[end:])
                parts.append(text)
            text = "  ".join(parts).rstrip()
            return style(text, row_code) if row_code else text

        rule = style(style.rule * (sum(widths) + 2 * (len(keep) - 1)), "2")
        lines.append(line(self.headers, "1"))
        lines.append(rule)
        for cells, kind, codes in rows:
            if kind == "rule":
                lines.append(rule)
            elif kind in ("section", "gap"):
                text = cells[0] if len(cells[0]) <= width else cells[0][:width - len(style.ellipsis)] + style.ellipsis
                lines.append(style(text, "1" if kind == "section" else "2"))
            else:
                lines.append(line(cells, self.ROW_STYLES.get(kind), codes))
        hidden = [self.headers[i] for i in range(len(self.headers)) if i not in keep and i not in self.optional]
        if hidden:
            names = [name + "," for name in hidden[:-1]] + [hidden[-1] + ";"]
            note = (f"Not shown at {width} columns:".split(" ") + names
                    + f"{self.shown_by} shows them.".split(" "))
            lines.extend(style(text, "2") for text in wrap_words(note, width))
        return "\n".join(lines)


def _ascii(text):
    return text.encode("ascii", "backslashreplace").decode("ascii")


def _compact_cell(text, index, columns):
    if index in columns and text.replace(",", "").isdigit():
        return fmt_compact(int(text.replace(",", "")))
    return text


def usage_cells(usage):
    return [fmt_int(usage.input), fmt_int(usage.output), fmt_int(usage.cache_write),
            fmt_int(usage.cache_read), fmt_int(usage.total_tokens), fmt_cost(usage)]


USAGE_HEADERS = ["Input", "Output", "Cache write", "Cache read", "Total", "Cost"]


_UUID = LazyPattern(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def short_session(session):
    """A session id for a table cell: a Claude Code session's UUID by its first 8 characters; another
    (a log's name, a program's own id) whole, up to 20."""
    return clean(session[:8] if _UUID.match(session) else session[:20])


def short_model(name):
    """A model id for a table cell: without "claude-" and a date at its end."""
    name = name[len("claude-"):] if name.startswith("claude-") else name
    return clean(re.sub(r"-\d{8}$", "", name))


SEGMENT_FIELDS = {
    "today_cost": "today's cost",
    "window_cost": "the active 5-hour window's cost",
    "used": "the window's used percent: official 47%, estimated ~47%",
    "used_official": "the official used percent alone",
    "used_kind": "official or estimated",
    "tokens": "the window's tokens",
    "reset_in": "time to the window's reset",
    "reset_at": "the clock time of the reset",
    "burn_rate": "cost per hour over the last hour",
    "limit_in": "time to the predicted limit, when it comes before the reset",
    "limit_at": "the clock time of the predicted limit",
    "week_cost": "this week's cost",
    "month_cost": "this month's cost",
    "week_used": "the official 7-day used percent",
    "model": "the model of the last call",
    "session_cost": "the session's cost (status line)",
    "context": "the context window's used percent (status line)",
}
DEFAULT_STATUSLINE_FORMAT = ("{model}[ · {session_cost} session][ · {today_cost} today][ · {used} 5h]"
                             "[ · {reset_in} left][ · ctx {context}]")
# The SGR codes of the colours a segment uses.
_ANSI_COLOURS = {"green": "32", "yellow": "33", "red": "31"}
_SEGMENT_TOKEN = LazyPattern(r"\{\{|\}\}|\[\[|\]\]|\{([^{}]*)\}|[\[\]{}]|[^{}\[\]]+")


def parse_segment_format(text):
    """A format's parts: ("text", s), ("field", name), ("[",) and ("]",) around a part dropped when a field
    in it is empty.  {{ }} [[ ]] are literal braces and brackets.  ValueError says what is wrong."""
    parts, depth = [], 0
    for match in _SEGMENT_TOKEN.finditer(text):
        token = match.group()
        if token in ("{{", "}}", "[[", "]]"):
            parts.append(("text", token[0]))
        elif match.group(1) is not None:
            if match.group(1) not in SEGMENT_FIELDS:
                raise ValueError(f"unknown field {token} (fields: {', '.join(SEGMENT_FIELDS)})")
            parts.append(("field", match.group(1)))
        elif token in "[]":
            depth += 1 if token == "[" else -1
            if depth not in (0, 1):
                raise ValueError("brackets [ ] may not nest or close unopened; [[ and ]] are literal ones")
            parts.append((token,))
        elif token in "{}":
            raise ValueError(f"a lone {token}: write {token}{token} for a literal one")
        else:
            parts.append(("text", token))
    if depth:
        raise ValueError("a [ is never closed; [[ is a literal one")
    return parts


def _compact_duration(ms):
    minutes = max(int(ms // MINUTE_MS), 0)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


# The colour a segment shows each threshold state (threshold_state) in.
SEGMENT_COLOURS = {"ok": "green", "warning": "yellow", "over": "red"}


def segment_fields(facts, now_ms, tz, thresholds, payload=None):
    """{field: (text, colour or None)} from segment_facts (and a status line's payload facts)."""
    payload = payload or {}

    def money(value):
        return (f"${value:,.2f}", None) if value is not None else ("", None)

    def percent(value):
        return (f"{value:.0f}%", SEGMENT_COLOURS[threshold_state(value, thresholds)]) if value is not None else ("", None)

    fields = {name: ("", None) for name in SEGMENT_FIELDS}
    for name in ("today_cost", "week_cost", "month_cost"):
        fields[name] = money(facts.get(name))
    five_hour = payload.get("five_hour") or facts.get("five_hour")
    seven_day = payload.get("seven_day") or facts.get("seven_day")
    five_hour = five_hour if five_hour and five_hour[2] > now_ms else None
    if seven_day and seven_day[2] > now_ms:
        fields["week_used"] = percent(seven_day[1])
    window = facts.get("window")
    if window and window["resets_at"] <= now_ms:
        window = None
    resets_at = five_hour[2] if five_hour else window["resets_at"] if window else None
    if five_hour:
        fields["used"] = fields["used_official"] = percent(five_hour[1])
        fields["used_kind"] = ("official", None)
    elif window and window["percent"] is not None:
        text, colour = percent(window["percent"])
        fields["used"], fields["used_kind"] = ("~" + text, colour), ("estimated", None)
    if resets_at is not None:
        fields["reset_in"] = (_compact_duration(resets_at - now_ms), None)
        fields["reset_at"] = (_clock(resets_at, tz), None)
    if window:
        fields["window_cost"] = money(window["cost"])
        fields["tokens"] = (fmt_compact(window["tokens"]), None)
        fields["burn_rate"] = (f"${window['cost_per_hour']:,.2f}/h", None)
        limit_at = window["limit_at"]
        if limit_at is not None and now_ms <= limit_at < resets_at:
            fields["limit_in"] = (_compact_duration(limit_at - now_ms), "red")
            fields["limit_at"] = (_clock(limit_at, tz), "red")
    model = payload.get("model") or (facts.get("model") and short_model(facts["model"]))
    fields["model"] = (clean(model) if model else "", None)
    fields["session_cost"] = money(payload.get("session_cost"))
    fields["context"] = percent(payload.get("context"))
    return fields


def _paint_segment(text, colour, shell):
    """Text in colour (None: plain), marked up as shell wants colour codes in a prompt."""
    if colour is None:
        return text
    if shell == "tmux":
        return f"#[fg={colour}]{text}#[default]"
    start, end = f"\x1b[{_ANSI_COLOURS[colour]}m", "\x1b[0m"
    if shell == "bash":
        # What \[ and \] in PS1 stand for: readline's marks of the text that takes no room.
        start, end = f"\x01{start}\x02", f"\x01{end}\x02"
    elif shell == "zsh":
        start, end = f"%{{{start}%}}", f"%{{{end}%}}"
    return start + text + end


def _escape_segment(text, shell):
    """Text the shell's prompt would read as markup, made literal."""
    if shell == "zsh":
        return text.replace("%", "%%")
    if shell == "tmux":
        return text.replace("#", "##")
    return text


def render_segment(parts, fields, shell, colour):
    """The line of a parsed format: a [part] with an empty field is left out; "" when no field has a value.

    A line neither starts nor ends in spaces or the " · " that separates
    the default format's parts: a part before or after it may have dropped out.
    """
    out, group, group_ok, any_value = [], None, True, False
    for part in parts:
        if part[0] == "[":
            group, group_ok = [], True
            continue
        if part[0] == "]":
            if group_ok:
                out.extend(group)
            group = None
            continue
        if part[0] == "field":
            text, level = fields[part[1]]
            if not text:
                group_ok = False
                continue
            any_value = True
            piece = _paint_segment(_escape_segment(text, shell), level if colour else None, shell)
        else:
            piece = _escape_segment(part[1], shell)
        (out if group is None else group).append(piece)
    return "".join(out).strip(" \u00b7") if any_value else ""


def _models_cell(row):
    return ", ".join(short_model(model) for model, _ in _models_by_cost(row))


def render_period_table(rows, period, breakdown, by_project, width, style, plan_price=None, sources=None):
    """plan_price (US dollars a month): a column of each month's API value as a multiple of it.
    sources: the source names of a row, for a last column (with several sources in use)."""
    label = {"daily": "Date", "weekly": "Week", "monthly": "Month"}[period]
    # The models, where there is room, unless the breakdown lists them.
    models = [] if breakdown else [""]
    headers = [label] + USAGE_HEADERS + (["Vs plan"] if plan_price else []) + (["Models"] if models else [])
    models_column = len(headers) - 1 if models else None
    source_column = len(headers) if sources else None
    if sources:
        headers.append("Source")
    extra = [""] * (len(headers) - 1 - len(USAGE_HEADERS) - len(models))
    # Narrow: give up the models, abbreviate, then the sources and the token
    # columns least looked at; Total and Cost stay.
    table = Table(headers, ["<"] + [">"] * (len(headers) - 1 - len(models) - bool(sources))
                  + ["<"] * (len(models) + bool(sources)),
                  shrink=((models_column,) if models else ()) + (Table.NUMBERS,)
                  + ((source_column,) if sources else ()) + (3, 4, 1, 2),
                  compact_columns=(1, 2, 3, 4, 5), cut=models_column if models else 0, optional=(models_column,),
                  cut_min=20)
    source_cell = (lambda row: [clean(", ".join(sources(row)))]) if sources else (lambda row: [])
    current_project = object()
    total = Usage()
    for row in rows:
        if by_project and row.project != current_project:
            current_project = row.project
            table.add([clean(_home(row.project))] + [""] * (len(headers) - 1), "section")
        multiple = [fmt_multiple(row.total.cost / plan_price)] if plan_price else []
        table.add([row.key] + usage_cells(row.total) + multiple + ([_models_cell(row)] if models else [])
                  + source_cell(row))
        total.add(row.total)
        if breakdown:
            for model, usage in _models_by_cost(row):
                table.add(["  " + short_model(model)] + usage_cells(usage) + extra, "detail")
    table.add([""] * len(headers), "rule")
    months = len({row.key for row in rows}) or 1
    table.add(["Total"] + usage_cells(total) + ([fmt_multiple(total.cost / plan_price / months)] if plan_price else [])
              + models + ([""] if sources else []), "total")
    return table.render(width, style)


def render_session_table(rows, breakdown, width, style, tz, sources=None):
    """sources: the source names of a row, for a last column (with several sources in use)."""
    headers = ["Session", "Project", "Last activity"] + USAGE_HEADERS + (["Source"] if sources else [])
    tail = (lambda row: [clean(", ".join(sources(row)))]) if sources else (lambda row: [])
    blank = [""] if sources else []
    # Narrow: abbreviate, give up the token columns the Total column sums,
    # (the sources,) then the time; the project is cut rather than given up.
    table = Table(headers, ["<", "<", "<"] + [">"] * 6 + ["<"] * len(blank),
                  shrink=(Table.NUMBERS, 3, 4, 5, 6) + ((9,) if sources else ()) + (2,),
                  compact_columns=(3, 4, 5, 6, 7), cut=1, cut_next=0)
    total = Usage()
    for row in rows:
        last = datetime.fromtimestamp(row.total.last / 1000, tz).strftime("%Y-%m-%d %H:%M")
        project = os.path.basename(row.project.rstrip("/")) or row.project
        table.add([short_session(row.session), clean(project[:18]), last] + usage_cells(row.total) + tail(row))
        total.add(row.total)
        if breakdown:
            for model, usage in _models_by_cost(row):
                table.add(["", "  " + short_model(model), ""] + usage_cells(usage) + blank, "detail")
    table.add([""] * len(headers), "rule")
    table.add(["Total", "", ""] + usage_cells(total) + blank, "total")
    return table.render(width, style)


def unpriced_footnote(usages, unpriced_models):
    """The line under a table whose costs leave out unpriced models, explaining the marks its cost
    cells (those of usages) carry; None when there is nothing to explain."""
    if not unpriced_models:
        return None
    names = ", ".join(clean(m) for m in sorted(unpriced_models))
    marks = {fmt_cost(usage)[-1] for usage in usages} & {"*", "?"}
    if marks == {"?"}:
        return f"? no price for: {names}"
    if marks == {"*", "?"}:
        return f"* excludes models with no price, ? has no priced call: {names}"
    return f"* excludes models with no price: {names}"


def _home(path):
    home = os.path.expanduser("~")
    return "~" + path[len(home):] if path and home != "/" and path.startswith(home + "/") else path


# What makes a spreadsheet take a cell for a formula (OWASP's list).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe_cell(value):
    """A CSV cell for value that a spreadsheet shows as text, never runs.

    Text beginning like a formula gets a leading single quote (OWASP's rule
    against CSV injection), and control characters are escaped as on a
    terminal.  Numbers stay numbers; None is an empty cell.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        return value
    return ("'" if value.startswith(_FORMULA_STARTS) else "") + clean(value)


def write_csv(out, headers, records):
    import csv
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    for record in records:
        writer.writerow([csv_safe_cell(v) for v in record])


def _csv_usage(usage):
    return [usage.input, usage.output, usage.cache_write, usage.cache_read, usage.total_tokens,
            "" if usage.unpriced == usage.calls and usage.calls else f"{usage.cost:.6f}"]


CSV_USAGE = ["input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "total_tokens",
             "cost_usd"]


def _duration(ms):
    minutes = max(int(ms // MINUTE_MS), 0)
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def _clock(ms, tz, with_day=False):
    moment = datetime.fromtimestamp(ms / 1000, tz)
    return moment.strftime("%Y-%m-%d %H:%M" if with_day else "%H:%M")


def _npm_burn_rate(window):
    """The npm ccusage's burn rate: over the window's first to last call."""
    minutes = (window.usage.last - window.usage.first) / MINUTE_MS
    if minutes <= 0:
        return None
    usage = window.usage
    return {"tokensPerMinute": usage.total_tokens / minutes,
            "tokensPerMinuteForIndicator": (usage.input + usage.output) / minutes,
            "costPerHour": round_cost(usage.cost / minutes * 60)}


def token_counts_json(usage):
    """A window's tokens in the npm ccusage's block fields."""
    return {"inputTokens": usage.input, "outputTokens": usage.output,
            "cacheCreationInputTokens": usage.cache_write, "cacheReadInputTokens": usage.cache_read}


def window_json(window, now_ms, length_ms, limit):
    if window.is_gap:
        return {"id": f"gap-{_iso(window.start)}", "startTime": _iso(window.start), "endTime": _iso(window.end),
                "actualEndTime": None, "isActive": False, "isGap": True, "entries": 0,
                "tokenCounts": token_counts_json(Usage()),
                "totalTokens": 0, "costUSD": 0, "models": [], "burnRate": None, "projection": None}
    usage = window.usage
    active = window.is_active(now_ms, length_ms)
    entry = {"id": _iso(window.start), "startTime": _iso(window.start), "endTime": _iso(window.end),
             "actualEndTime": _iso(window.last), "isActive": active, "isGap": False, "entries": usage.calls,
             "tokenCounts": token_counts_json(usage),
             "totalTokens": usage.total_tokens, "costUSD": json_cost(usage), "models": sorted(window.models),
             "burnRate": None, "projection": None, "limitReached": window.limit_hit,
             "weeklyLimitReached": window.weekly_hit, "resetsAt": _iso(window.resets_at())}
    if active:
        rate = _npm_burn_rate(window)
        if rate:
            # Rounded as status rounds its rates; the projection is made from the exact ones.
            entry["burnRate"] = dict(rate, tokensPerMinute=round(rate["tokensPerMinute"], 1),
                                     tokensPerMinuteForIndicator=round(rate["tokensPerMinuteForIndicator"], 1))
            remaining = max((window.end - now_ms) / MINUTE_MS, 0)
            projected = round(usage.total_tokens + rate["tokensPerMinute"] * remaining)
            entry["projection"] = {"totalTokens": projected,
                                   "totalCost": round(usage.cost + rate["costPerHour"] / 60 * remaining, 2),
                                   "remainingMinutes": round(remaining)}
            if limit.tokens:
                percent = projected / limit.tokens * 100
                entry["tokenLimitStatus"] = {"limit": limit.tokens, "projectedUsage": projected,
                                             "percentUsed": round(percent, 1),
                                             "status": {"over": "exceeds"}.get(threshold_state(percent),
                                                                                threshold_state(percent))}
    return entry


BLOCKS_CSV = ["window_start", "window_end", "last_call", "active", "limit_reached", "calls"] + CSV_USAGE + [
    "percent_of_limit", "models"]


def window_csv(window, now_ms, length_ms, limit):
    """A window's row of blocks --csv (times in UTC ISO, as the JSON has them)."""
    usage = window.usage
    percent = f"{100 * usage.total_tokens / limit.tokens:.1f}" if limit.tokens else ""
    return ([_iso(window.start), _iso(window.resets_at()), _iso(window.last),
             int(window.is_active(now_ms, length_ms)), int(bool(window.limit_hit)), usage.calls]
            + _csv_usage(usage) + [percent, " ".join(sorted(window.models))])


def render_blocks_table(windows, now_ms, length_ms, limit, width, style, tz, sources=None):
    """sources: {window's first call: source names}, for a last column (with several sources in use)."""
    headers = ["Window", "Last call", "Calls", "Tokens", "% limit", "Cost", "Models"] + (["Source"] if sources else [])
    table = Table(headers,
                  ["<", "<", ">", ">", ">", ">", "<"] + (["<"] if sources else []),
                  shrink=(2, 6) + ((7,) if sources else ()) + (Table.NUMBERS, 1, 5), compact_columns=(3,), cut=6)
    for window in windows:
        if window.is_gap:
            table.add([f"  (no calls for {_duration(window.end - window.start + length_ms)})"], "gap")
            continue
        usage = window.usage
        share = 100 * usage.total_tokens / limit.tokens if limit.tokens else None
        last = _clock(window.last, tz) + (" now" if window.is_active(now_ms, length_ms) else "") \
            + (" limit" if window.limit_hit else "") + (" weekly limit" if window.weekly_hit else "")
        table.add([_clock(window.start, tz, True), last, fmt_int(usage.calls), fmt_int(usage.total_tokens),
                   "" if share is None else f"{share:.0f}%", fmt_cost(usage),
                   ", ".join(short_model(m) for m in sorted(window.models))]
                  + ([clean(", ".join(sources[window.first]))] if sources else []),
                  "total" if window.is_active(now_ms, length_ms) else "body",
                  {4: THRESHOLD_STYLES[threshold_state(share)]})
    return table.render(width, style)


def render_limit(limit, width):
    """The line under the blocks table: the limit and where it comes from."""
    words = ["Limit:"] + ([f"{fmt_int(limit.tokens)} tokens,"] if limit.tokens else []) + clean(limit.basis).split(" ")
    return "\n".join(wrap_words(words, width, "       "))


def status_fields(status, tz):
    """The lines of `status` for an active window: (label, phrases, state), where a phrase is never
    broken across lines and state, when not None, is the threshold state the line is coloured by."""
    window, limit = status.window, status.limit
    usage = window.usage
    end_has_day = _clock(window.end, tz, True)[:10] != _clock(window.start, tz, True)[:10]
    reset = [f"(resets {_clock(status.resets_at, tz)}" + (")" if not window.reset_at or status.official else ",")]
    if window.reset_at and not status.official:
        reset += ["from a", "limit message)"]
    fields = [("Window", [_clock(window.start, tz, True), f"to {_clock(window.end, tz, end_has_day)},",
                          f"{_duration(status.resets_at - status.now)} left"] + reset, None)]
    if status.official:
        age = _duration(status.now - status.official[0])
        fields.append(("Used", [f"{status.percent_used:.0f}%", f"(official, {age} ago);",
                                f"{fmt_int(usage.total_tokens)} tokens", "counted here"],
                       threshold_state(status.percent_used)))
    elif limit.tokens:
        fields.append(("Used", [f"{fmt_int(usage.total_tokens)} of {fmt_int(limit.tokens)} tokens",
                                f"({status.percent_used:.0f}%, estimated)"], threshold_state(status.percent_used)))
        fields.append(("", ["limit:"] + limit.basis.split(" "), None))
    else:
        fields.append(("Used", [f"{fmt_int(usage.total_tokens)} tokens"], None))
        fields.append(("", limit.basis.split(" "), None))
    fields.append(("Cost", [fmt_cost(usage)], None))
    fields.append(("Rate", [f"{fmt_int(round(status.tokens_per_minute))} tokens/min,",
                            f"${status.cost_per_hour:,.2f}/hour",
                            f"(over the last {status.span_minutes:.0f} min)"], None))
    prediction = status.prediction
    if status.reached:
        fields.append(("Limit", ["reached"], "over"))
    elif prediction is not None and prediction.span_ms:
        rate = [f"official {prediction.rate_per_hour:+.0f}%/hour", f"over the last {_duration(prediction.span_ms)})"]
        if prediction.at is None:
            fields.append(("Limit", ["not before the reset", "(" + rate[0]] + rate[1:], None))
        else:
            fields.append(("Limit", [f"at {_clock(prediction.at, tz)}", f"(in {_duration(prediction.at - status.now)};"]
                           + rate, "warning" if prediction.at < status.resets_at else None))
    elif status.limit_at is None:
        fields.append(("Limit", ["unknown"] if not limit.tokens else ["not reached", "at the current rate"], None))
    elif status.before_reset:
        fields.append(("Limit", [f"at {_clock(status.limit_at, tz)}", "at this rate",
                                 f"(in {_duration(status.limit_at - status.now)})"], "warning"))
    else:
        fields.append(("Limit", ["not before the reset", "at this rate"], None))
    if status.weekly:
        fields.append(weekly_field(status.weekly, status.now, tz))
    return fields


def render_fields(fields, width, style):
    """Labelled lines (as status_fields gives them; label None: none, no indent) wrapped to width
    between phrases, cleaned, and coloured by their threshold state."""
    lines = []
    for label, phrases, state in fields:
        words = [clean(p) for p in phrases]
        if label is not None:
            words[0] = clean(label.ljust(7)) + " " + words[0]
        for text in wrap_words(words, width, "" if label is None else " " * 8):
            lines.append(style(text, THRESHOLD_STYLES[state]) if state else text)
    return "\n".join(lines)


def render_status(status, tz, width, style):
    return render_fields(status_fields(status, tz), width, style)


def weekly_field(weekly, now_ms, tz):
    captured, used, resets = weekly
    return ("Week", [f"{used:.0f}% used", f"(official, {_duration(now_ms - captured)} ago),",
                     f"resets {datetime.fromtimestamp(resets / 1000, tz).strftime('%a %H:%M')}"], threshold_state(used))


def weekly_line(weekly, now_ms, tz):
    label, phrases, _ = weekly_field(weekly, now_ms, tz)
    return label.ljust(7) + " " + " ".join(phrases)


def why_no_window(last_window, now_ms, length_ms, tz):
    """Why no window is active: the last one reset (less than a window's length after its last call), or no calls."""
    if last_window is not None and not last_window.is_gap and now_ms - last_window.last < length_ms:
        return f"the last one reset at {_clock(last_window.resets_at(), tz)}; the next call starts one"
    return f"no calls in the last {_duration(length_ms)}"


def render_status_answer(status, weekly, now_ms, length_ms, tz, width, style, last_window):
    """What `status` prints: the active window, or that there is none (and the week).

    last_window: the latest window, which may have reset less than a window's length after its last call.
    """
    if status is not None:
        return render_status(status, tz, width, style) + "\n"
    fields = [(None, f"No active window: {why_no_window(last_window, now_ms, length_ms, tz)}.".split(" "), None)]
    if weekly:
        fields.append(weekly_field(weekly, now_ms, tz))
    return render_fields(fields, width, style) + "\n"


def official_json(status, weekly, now_ms):
    """The official figures while current, with their age: {"fiveHour": ..., "sevenDay": ...} (None: none known)."""
    def figure(official):
        if not official:
            return None
        captured, used, resets = official
        return {"usedPercentage": used, "resetsAt": _iso(resets), "capturedAt": _iso(captured),
                "ageMinutes": round((now_ms - captured) / MINUTE_MS, 1)}
    return {"fiveHour": figure(status.official if status is not None else None), "sevenDay": figure(weekly)}


def status_json(status, limit, weekly, now_ms):
    data = {"active": status is not None, "window": None,
            "limit": {"tokens": limit.tokens, "basis": limit.basis, "official": limit.official},
            "percentUsed": None, "burnRate": None, "limitReachedAt": None, "limitBeforeReset": None,
            "limitReached": False, "official": None, "weekly": None}
    if weekly:
        data["weekly"] = {"usedPercentage": weekly[1], "resetsAt": _iso(weekly[2]), "capturedAt": _iso(weekly[0])}
    if status is None:
        return data
    window, usage = status.window, status.window.usage
    data["window"] = {"startTime": _iso(window.start), "endTime": _iso(window.end),
                      "resetsAt": _iso(status.resets_at), "lastActivity": _iso(window.last),
                      "entries": usage.calls, "totalTokens": usage.total_tokens,
                      "tokenCounts": token_counts_json(usage),
                      "costUSD": json_cost(usage), "models": sorted(window.models)}
    data["limit"] = {"tokens": status.limit.tokens, "basis": status.limit.basis, "official": status.limit.official}
    percent = status.percent_used
    data["percentUsed"] = None if percent is None else round(percent, 1)
    data["burnRate"] = {"spanMinutes": round(status.span_minutes, 1),
                        "tokensPerMinute": round(status.tokens_per_minute, 1),
                        "tokensPerMinuteForIndicator": round(status.io_tokens_per_minute, 1),
                        "costPerHour": round_cost(status.cost_per_hour)}
    data["limitReachedAt"] = _iso(status.limit_at) if status.limit_at is not None else None
    data["limitBeforeReset"] = status.before_reset
    data["limitReached"] = status.reached
    if status.official:
        data["official"] = {"usedPercentage": status.official[1], "resetsAt": _iso(status.official[2]),
                            "capturedAt": _iso(status.official[0])}
    prediction = status.prediction
    if prediction is not None and prediction.span_ms:
        data["officialPrediction"] = {"limitAt": _iso(prediction.at) if prediction.at is not None else None,
                                      "spanMinutes": round(prediction.span_ms / MINUTE_MS, 1),
                                      "captures": prediction.points,
                                      "percentPerHour": round(prediction.rate_per_hour, 2)}
    return data


EXPORT_LISTS = {None: "calls", "hour": "hourly", "day": "daily"}


def _export_lead(row, period, tz):
    """(field, value) pairs that say what an export row is: its call, or its period."""
    if period is None:
        return [("timestamp", _iso(row.ts)), ("sessionId", row.session)]
    if period == "hour":
        return [("hour", _iso(row.ts))]
    return [("date", datetime.fromtimestamp(row.ts / 1000, tz).date().isoformat())]


def export_row_json(row, period, tz, source):
    entry = dict(_export_lead(row, period, tz))
    entry["projectPath"], entry["modelName"] = row.project, row.model
    if period:
        entry["calls"] = row.usage.calls
    entry.update(usage_json(row.usage))
    entry["webSearches"] = row.usage.web_searches
    entry["source"] = source(row.usage)
    return entry


def write_export(out, rows, export_format, period, tz, unpriced_models, source):
    """Export rows as csv, jsonl or json (the latter with totals, as the reports give them).

    source(usage): the names of the sources that saw its calls, as one text ("claude-code+proxy").
    """
    if export_format == "csv":
        lead = {None: ["timestamp", "session_id"], "hour": ["hour"], "day": ["date"]}[period]
        headers = lead + ["project_path", "model"] + (["calls"] if period else []) + CSV_USAGE + [
            "web_searches", "source"]
        # write_csv neutralises the cells a spreadsheet would run.
        write_csv(out, headers, (
            [value for _, value in _export_lead(row, period, tz)] + [row.project, row.model]
            + ([row.usage.calls] if period else []) + _csv_usage(row.usage) + [row.usage.web_searches, source(row.usage)]
            for row in rows))
    elif export_format == "jsonl":
        for row in rows:
            out.write(json_line(export_row_json(row, period, tz, source)) + "\n")
    else:
        total = Usage()
        entries = []
        for row in rows:
            total.add(row.usage)
            entries.append(export_row_json(row, period, tz, source))
        totals = usage_json(total)
        totals["webSearches"] = total.web_searches
        if unpriced_models:
            totals["unpricedModels"] = sorted(unpriced_models)
        out.write(to_json({EXPORT_LISTS[period]: entries, "totals": totals}, out) + "\n")


# The token kinds as Claude Code's own OpenTelemetry metrics name them.
PROMETHEUS_TOKEN_TYPES = (("input", "input"), ("output", "output"), ("cacheRead", "cache_read"),
                          ("cacheCreation", "cache_write"))


def _prometheus_label(text):
    # clean() leaves no newline, so backslashes and quotes are all the format has to escape.
    return clean(text).replace("\\", "\\\\").replace('"', '\\"')


def _prometheus_number(value):
    return str(value) if isinstance(value, int) else repr(float(value))


def prometheus_text(usage, figures, latest_ms, now_ms, requests, source):
    """The Prometheus text exposition (format 0.0.4) of usage {(project path, model name): Usage} and of
    requests {(model name, agent or None): RequestStats}; source(usage): the names of the sources that saw
    its calls, as one text.

    Tokens, calls and web searches are counters; the cost is a gauge, since
    prices apply when the figures are made and a corrected price can lower it.
    Labels are few by design: no session ids.  Requests are counted per
    tier and agent; the success ratio and the latency quantiles are per tier,
    as quantiles cannot be summed.
    """
    series = {}
    for (project, model), part in usage.items():
        labels = (f'source="{_prometheus_label(source(part))}",project="{_prometheus_label(project)}",'
                  f'model="{_prometheus_label(model)}",tier="{model_tier(model)}"')
        # Two names can clean to the same text: one series holds both.
        merged = series.get(labels)
        if merged is None:
            merged = series[labels] = Usage()
        merged.add(part)
    lines = []

    def family(name, kind, text, samples):
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{{{labels}}} {_prometheus_number(value)}" if labels else
                     f"{name} {_prometheus_number(value)}" for labels, value in samples)

    ordered = sorted(series.items())
    family("ccusage_tokens_total", "counter", "Tokens of the API calls, by type.",
           [(f'{labels},type="{kind}"', getattr(part, field))
            for labels, part in ordered for kind, field in PROMETHEUS_TOKEN_TYPES])
    family("ccusage_calls_total", "counter", "API calls.",
           [(labels, part.calls) for labels, part in ordered])
    family("ccusage_web_searches_total", "counter", "Web searches of the API calls.",
           [(labels, part.web_searches) for labels, part in ordered])
    family("ccusage_cost_usd", "gauge",
           "Cost in US dollars at today's prices (a gauge: a corrected price can lower it); "
           "models without a price are left out.",
           [(labels, round_cost(part.cost)) for labels, part in ordered if part.unpriced < part.calls])
    family("ccusage_last_call_timestamp_seconds", "gauge", "When the latest call was made (Unix time).",
           [("", latest_ms / 1000)] if latest_ms is not None else [])
    family("ccusage_window_active", "gauge", "1 while a usage window is active, else 0.",
           [("", int(figures.active))])
    active = figures.active
    family("ccusage_window_tokens", "gauge", "Tokens used in the active window.",
           [("", figures.usage.total_tokens)] if active else [])
    family("ccusage_window_estimated_used_ratio", "gauge",
           "Share of the active window's limit used, against the estimated limit (1 is 100%).",
           [("", figures.percent_estimated / 100)] if figures.percent_estimated is not None else [])
    family("ccusage_window_official_used_ratio", "gauge",
           "Share of the active window used, as Claude Code last reported it (1 is 100%).",
           [("", figures.percent_official / 100)] if figures.percent_official is not None else [])
    family("ccusage_window_reset_seconds", "gauge", "Seconds until the active window resets.",
           [("", max(figures.resets_at - now_ms, 0) / 1000)] if active else [])
    family("ccusage_window_burn_rate_tokens_per_second", "gauge",
           "Tokens a second over the active window's latest hour.",
           [("", figures.tokens_per_minute / 60)] if active else [])
    family("ccusage_week_official_used_ratio", "gauge",
           "Share of the 7-day limit used, as Claude Code last reported it (1 is 100%).",
           [("", figures.weekly_percent / 100)] if figures.weekly_percent is not None else [])
    by_agent, by_tier = {}, {}
    for (model, agent), part in requests.items():
        tier = model_tier(model)
        by_agent.setdefault(f'tier="{tier}",agent="{_prometheus_label(agent or "")}"', RequestStats()).add(part)
        by_tier.setdefault(f'tier="{tier}"', RequestStats()).add(part)
    agents, tiers = sorted(by_agent.items()), sorted(by_tier.items())
    family("ccusage_requests_total", "counter",
           "Requests the proxy and calls logs record, billed or not, by model tier and agent.",
           [(labels, stats.requests) for labels, stats in agents])
    family("ccusage_request_failures_total", "counter", "Requests the logs record as failed.",
           [(labels, stats.failed) for labels, stats in agents])
    family("ccusage_request_success_ratio", "gauge",
           "Share of the requests with a known outcome that succeeded (1 is all).",
           [(labels, stats.success_rate) for labels, stats in tiers if stats.success_rate is not None])
    name = "ccusage_request_latency_seconds"
    lines.append(f"# HELP {name} Latency of the requests that logged one (quantiles by nearest rank).")
    lines.append(f"# TYPE {name} summary")
    for labels, stats in tiers:
        if not stats.latencies:
            continue
        lines.extend(f'{name}{{{labels},quantile="{percent / 100}"}} {_prometheus_number(value / 1000)}'
                     for percent, value in zip(LATENCY_PERCENTILES, stats.percentiles()))
        lines.append(f"{name}_sum{{{labels}}} "
                     + _prometheus_number(sum(ms * n for ms, n in stats.latencies.items()) / 1000))
        lines.append(f"{name}_count{{{labels}}} {sum(stats.latencies.values())}")
    return "\n".join(lines) + "\n"


def serve_summary_json(figures, totals, sessions, latest, now_ms):
    """serve's /api/summary: the active window, its pace, the totals and the latest activity."""
    window = burn = active_session = None
    if figures.active:
        official = figures.percent_official
        percent = official if official is not None else figures.percent_estimated
        window = {"startTime": _iso(figures.start), "resetsAt": _iso(figures.resets_at),
                  "hoursUsed": round((now_ms - figures.start) / HOUR_MS, 2),
                  "hoursLeft": round(max(figures.resets_at - now_ms, 0) / HOUR_MS, 2),
                  "totalTokens": figures.usage.total_tokens, "costUSD": json_cost(figures.usage),
                  "percentUsed": None if percent is None else round(percent, 1),
                  "percentUsedEstimated": None if figures.percent_estimated is None else
                  round(figures.percent_estimated, 1),
                  "percentUsedOfficial": official}
        burn = {"tokensPerMinute": round(figures.tokens_per_minute, 1),
                "costPerHour": round_cost(figures.cost_per_hour)}
        if latest is not None:
            active_session = {"sessionId": latest[1], "projectPath": latest[2], "lastActivity": _iso(latest[0])}
    weekly = None
    if figures.weekly_percent is not None:
        weekly = {"usedPercentage": figures.weekly_percent, "resetsAt": _iso(figures.weekly_resets_at)}
    entry = usage_json(totals)
    entry["calls"] = totals.calls
    return {"generatedAt": _iso(now_ms), "window": window, "burnRate": burn, "weekly": weekly, "totals": entry,
            "sessionCount": sessions, "activeSession": active_session,
            "lastActivity": _iso(latest[0]) if latest is not None else None}


def render_prune_table(plan, width, style):
    table = Table(["Day", "Model", "Calls", "Tokens"], ["<", "<", ">", ">"], cut=1)
    calls = tokens = 0
    for day, model, day_calls, day_tokens in plan:
        table.add([day.isoformat(), clean(model), fmt_int(day_calls), fmt_int(day_tokens)])
        calls += day_calls
        tokens += day_tokens
    table.add([""] * 4, "rule")
    table.add(["Total", "", fmt_int(calls), fmt_int(tokens)], "total")
    return table.render(width, style)


REQUEST_HEADERS = ["Requests", "Failed", "Success"] + [f"p{p} ms" for p in LATENCY_PERCENTILES]
# What `models` says without a request log, in place of the figures only such logs hold.
NO_REQUESTS_NOTE = ("Latency and success rates need a proxy or calls log that records them "
                    "(--log proxy:PATH, or [[sources]] in the settings).")


def fmt_rate(rate):
    return "-" if rate is None else f"{rate * 100:.1f}%"


def request_cells(stats):
    """The REQUEST_HEADERS cells of RequestStats."""
    return [fmt_int(stats.requests), fmt_int(stats.failed), fmt_rate(stats.success_rate)] + [
        "-" if value is None else fmt_int(value) for value in stats.percentiles()]


def render_models_table(rows, width, style, sources=None):
    """The tiers of `models`: their requests and latency where request logs record them, and their calls.

    sources: the source names of a set of roots, for a last column (with several sources in use)."""
    with_requests = any(row.requests.requests for row in rows)
    headers = ["Tier"] + (REQUEST_HEADERS if with_requests else []) + ["Calls", "Tokens", "Cost"]
    count = len(headers)
    # Narrower, the sources go (unsaid: --json has them), the tokens abbreviate, then the p95, the calls,
    # the p99, the failures, the tokens and the requests go.
    table = Table(headers + (["Source"] if sources else []), ["<"] + [">"] * (count - 1) + ["<"] * bool(sources),
                  compact_columns=(count - 2,), optional=(count,) if sources else (),
                  shrink=([count] if sources else []) + [Table.NUMBERS]
                  + ([5, count - 3, 6, 2, count - 2, 1] if with_requests else []))
    total, requests = Usage(), RequestStats()
    for row in rows:
        total.add(row.usage)
        requests.add(row.requests)
        table.add([TIER_NAMES[row.tier]] + (request_cells(row.requests) if with_requests else [])
                  + [fmt_int(row.usage.calls), fmt_int(row.usage.total_tokens), fmt_cost(row.usage)]
                  + ([clean(", ".join(sources(row.usage.roots | row.requests.roots)))] if sources else []))
    table.add([""] * (count + bool(sources)), "rule")
    table.add(["Total"] + (request_cells(requests) if with_requests else [])
              + [fmt_int(total.calls), fmt_int(total.total_tokens), fmt_cost(total)] + ([""] if sources else []),
              "total")
    return table.render(width, style)


def agent_rows(agents):
    """[(agent or None, tier, RequestStats)] by agent (those without one last), then tier."""
    order = list(TIER_NAMES)
    return sorted(((agent, tier, stats) for (agent, tier), stats in agents.items()),
                  key=lambda item: (item[0] is None, item[0] or "", order.index(item[1])))


def render_agents_table(agents, width, style):
    """The requests of `models` per agent and tier."""
    table = Table(["Agent", "Tier"] + REQUEST_HEADERS, ["<", "<"] + [">"] * len(REQUEST_HEADERS),
                  shrink=[6, 7, 3, 2], cut=0)
    for agent, tier, stats in agent_rows(agents):
        table.add([clean(agent) if agent is not None else "(none)", TIER_NAMES[tier]] + request_cells(stats))
    return table.render(width, style)


def request_json(stats):
    rate = stats.success_rate
    return {"requests": stats.requests, "failures": stats.failed, "successes": stats.succeeded,
            "successRate": None if rate is None else round(rate, 6),
            "latencyMs": dict(zip((f"p{p}" for p in LATENCY_PERCENTILES), stats.percentiles()),
                              count=sum(stats.latencies.values()))}


def models_json(rows, agents, unpriced_models, sources=None):
    """`models --json`: a tier's requests, latency and calls, the requests per agent, and the totals;
    sources as render_models_table's, for a "source" field."""
    total, requests = Usage(), RequestStats()
    tiers = []
    for row in rows:
        total.add(row.usage)
        requests.add(row.requests)
        tiers.append(dict(tier=row.tier, models=sorted(row.models), **request_json(row.requests),
                          calls=row.usage.calls, **usage_json(row.usage)))
        if sources:
            tiers[-1]["source"] = sources(row.usage.roots | row.requests.roots)
    totals = dict(request_json(requests), calls=total.calls, **usage_json(total))
    if unpriced_models:
        totals["unpricedModels"] = sorted(unpriced_models)
    by_agent = []
    for agent, tier, stats in agent_rows(agents):
        by_agent.append(dict(agent=agent, tier=tier, **request_json(stats)))
        if sources:
            by_agent[-1]["source"] = sources(stats.roots)
    return {"tiers": tiers, "agents": by_agent, "totals": totals}


def fmt_budget(unit, value):
    if value is None:
        return "?"
    if unit == "usd":
        return f"${value:,.2f}"
    if unit == "tokens":
        return fmt_int(round(value))
    return f"{value:.1f}%"


def fmt_multiple(value):
    """A multiple of a plan's price: 4.2x, or 0.04x below one."""
    return f"{value:.1f}x" if value >= 1 else f"{value:.2f}x"


def fmt_percent(percent):
    """A percent rounded down to a tenth: a figure just below a threshold never shows as the threshold."""
    return "" if percent is None else f"{int(percent * 10 + 1e-7) / 10:.1f}%"


STATE_COLORS = {"ok": THRESHOLD_STYLES["ok"], "warning": THRESHOLD_STYLES["warning"],
                "exceeded": THRESHOLD_STYLES["over"], "unknown": "2"}


def budget_lines(states, style, width=None):
    """One aligned line per budget: name, state, used of limit, percent of the limit, and a note.

    width: a note that would pass it goes below its line, wrapped; a line that would pass it
    goes on below its name and state.
    """
    cells = [(clean(s.budget.name), s.state, fmt_budget(s.budget.unit, s.used),
              fmt_budget(s.budget.unit, s.budget.limit), fmt_percent(s.percent), clean(s.note)) for s in states]
    widths = [max(len(row[i]) for row in cells) for i in range(5)]
    lines = []
    for name, state, used, limit, percent, note in cells:
        head = (f"{name.ljust(widths[0])}  {style(state.ljust(widths[1]), STATE_COLORS[state])}  "
                f"{used.rjust(widths[2])} of {limit.ljust(widths[3])}  {percent.rjust(widths[4])}")
        bare = len(name.ljust(widths[0])) + sum(widths[1:]) + 10
        if width is not None and bare > width:
            lines += [f"{name}  {style(state, STATE_COLORS[state])}",
                      f"    {used} of {limit}  {percent}".rstrip()]
            if note:
                import textwrap
                lines += textwrap.wrap(note, width, initial_indent=" " * 4, subsequent_indent=" " * 4)
            continue
        if width is None or bare + 2 + len(note) <= width:
            lines.append(f"{head}  {note}".rstrip())
        else:
            import textwrap
            lines += [head.rstrip()] + textwrap.wrap(note, width, initial_indent=" " * 4, subsequent_indent=" " * 4)
    return lines


def _budget_value_json(unit, value):
    if value is None:
        return None
    return round_cost(value) if unit == "usd" else round(value) if unit == "tokens" else round(value, 3)


def budget_json(state):
    budget = state.budget
    return {"name": budget.name, "kind": budget.kind, "project": budget.project, "unit": budget.unit,
            "state": state.state, "used": _budget_value_json(budget.unit, state.used),
            "limit": budget.limit, "percent": None if state.percent is None else round(state.percent, 3),
            "threshold": budget.threshold, "note": state.note}


def budget_env_value(unit, value):
    """A budget's figure for a notify command's environment: a plain number."""
    return f"{value:.2f}" if unit == "usd" else str(round(value)) if unit == "tokens" else f"{value:.1f}"


def period_title(summary):
    if summary.kind == "day":
        return f"{summary.first.strftime('%A')} {summary.first.isoformat()}"
    if summary.kind == "week":
        return f"the week {summary.first.isoformat()} to {summary.last.isoformat()}"
    return summary.first.strftime("%B %Y")


def _change(cost, before, label):
    if not before:
        return f"nothing on {label}"
    return f"{(cost - before) * 100 / before:+.1f}% on {label}: {fmt_budget('usd', before)}"


def api_value_line(summary):
    """"API value $843.10 on a $200 plan (4.2x)", a day or week taking its share of the monthly price."""
    value = fmt_budget("usd", summary.total.cost)
    if summary.plan_price is None:
        return f"API value {value} ({summary.plan_basis})"
    share = summary.plan_share
    multiple = fmt_multiple(summary.total.cost / share)
    price = f"${summary.plan_price:,.0f}" if summary.plan_price == int(summary.plan_price) else \
        fmt_budget("usd", summary.plan_price)
    if summary.kind == "month":
        return f"API value {value} on a {price} plan ({multiple})"
    return f"API value {value} on a {price} plan, {fmt_budget('usd', share)} of it for this {summary.kind} ({multiple})"


def _share(part, whole):
    return f"{part * 100 / whole:.1f}%" if whole else ""


def summary_sections(summary, tz):
    """The tables of a summary: [(title, headers, aligns, rows)], their texts cleaned of what logs may hold."""
    total = summary.total.cost
    sections = []
    models = sorted(summary.models.items(), key=lambda item: (-item[1].cost, item[0]))
    sections.append(("Cost by model", ["Model", "Tokens", "Cost", "Share"], "<>>>",
                     [[short_model(m), fmt_int(u.total_tokens), fmt_cost(u), _share(u.cost, total)]
                      for m, u in models]))
    projects = sorted(summary.projects.items(), key=lambda item: (-item[1].cost, item[0] or ""))
    sections.append(("Cost by project", ["Project", "Tokens", "Cost", "Share"], "<>>>",
                     [[clean(_home(p)), fmt_int(u.total_tokens), fmt_cost(u), _share(u.cost, total)]
                      for p, u in projects]))
    sections.append(("Top sessions", ["Session", "Project", "First", "Last", "Tokens", "Cost"], "<<<<>>",
                     [[short_session(r.session), clean(os.path.basename(r.project.rstrip("/")) or r.project)[:24],
                       _clock(r.total.first, tz, True), _clock(r.total.last, tz, summary.kind != "day"),
                       fmt_int(r.total.total_tokens), fmt_cost(r.total)] for r in summary.sessions]))
    limit = summary.window_limit
    rows = []
    for window in summary.windows:
        reached = window_limit_reached(window, summary)
        if summary.kind != "day" and not reached:
            continue
        percent = f"{window.usage.total_tokens * 100 / limit.tokens:.0f}%" if limit and limit.tokens else ""
        rows.append([f"{_clock(window.start, tz, True)}-{_clock(window.end, tz)}", fmt_int(window.usage.total_tokens),
                     fmt_cost(window.usage), percent, f"reached ({reached})" if reached else ""])
    sections.append(("5-hour windows", ["Window", "Tokens", "Cost", "% limit", "Limit"], "<>>><", rows))
    return sections


def summary_head(summary):
    """The lines above the tables: [(label, text)]."""
    total, (before, previous) = summary.total, summary.previous
    label = before[0].isoformat() + ("" if summary.kind == "day" else f" to {before[1].isoformat()}")
    return [
        ("Cost", f"{fmt_cost(total)} ({_change(total.cost, previous.cost, label)})"),
        ("Calls", fmt_int(total.calls)),
        ("Tokens", f"{fmt_int(total.total_tokens)}: input {fmt_int(total.input)}, output {fmt_int(total.output)}, "
                   f"cache write {fmt_int(total.cache_write)}, cache read {fmt_int(total.cache_read)}"),
        ("Value", api_value_line(summary)),
    ] + ([("", f"plan price: {summary.plan_basis}, a month")] if summary.plan_price else [])


def _windows_note(summary):
    limit = summary.window_limit
    reached = sum(1 for w in summary.windows if window_limit_reached(w, summary))
    basis = f"; limit {fmt_int(limit.tokens)} tokens, {limit.basis}" if limit and limit.tokens else ""
    return f"{fmt_count(len(summary.windows), 'window')}, {reached} reached a limit{basis}"


# How each table of a summary fits a narrow width: (what it gives up, in order; the columns abbreviated; the column cut).
SUMMARY_TABLE_FIT = {"Cost by model": ((Table.NUMBERS,), (1,), 0),
                     "Cost by project": ((Table.NUMBERS,), (1,), 0),   # paths: cut at their start
                     "Top sessions": ((Table.NUMBERS, 2, 3), (4,), 1),
                     "5-hour windows": ((Table.NUMBERS, 2, 3), (1,), 4)}


def render_summary_text(summary, tz, width, style):
    title = f"Usage report for {period_title(summary)} ({clean(summary.tz_name)})"
    lines = [style(line, "1") for line in wrap_words(title.split(" "), width)] + [""]
    import textwrap
    for label, text in summary_head(summary):
        lines += textwrap.wrap(clean(text), width, initial_indent=label.ljust(8), subsequent_indent=" " * 8)
    for title, headers, aligns, rows in summary_sections(summary, tz):
        lines += ["", style(title, "1")]
        if title == "5-hour windows":
            lines += textwrap.wrap(_windows_note(summary), width)
        if rows:
            shrink, compact, cut = SUMMARY_TABLE_FIT[title]
            table = Table(headers, list(aligns), shrink=shrink, compact_columns=compact, cut=cut,
                          cut_start=title == "Cost by project")
            for row in rows:
                table.add(row)
            lines.append(table.render(width, style))
    if summary.budgets:
        lines += ["", style(f"Budgets (as of {summary.last.isoformat()})", "1")]
        lines += budget_lines(summary.budgets, style, width)
    return "\n".join(lines) + "\n"


def _md(text):
    return clean(text).replace("|", "\\|")


def md_table(headers, aligns, rows):
    rule = ["---:" if a == ">" else "---" for a in aligns]
    return ["| " + " | ".join(cells) + " |" for cells in [headers, rule] + [[_md(c) for c in r] for r in rows]]


def render_summary_markdown(summary, tz):
    lines = [f"# Usage report for {period_title(summary)} ({_md(summary.tz_name)})", ""]
    lines += [f"- **{label}**: {_md(text)}" if label else f"  {_md(text)}" for label, text in summary_head(summary)]
    for title, headers, aligns, rows in summary_sections(summary, tz):
        lines += ["", f"## {title}", ""]
        if title == "5-hour windows":
            lines += [_md(_windows_note(summary))] + ([""] if rows else [])
        if rows:
            lines += md_table(headers, aligns, rows)
    if summary.budgets:
        lines += ["", f"## Budgets (as of {summary.last.isoformat()})", ""]
        lines += md_table(["Budget", "State", "Used", "Limit", "Percent", "Note"], "<<>>><",
                          [[s.budget.name, s.state, fmt_budget(s.budget.unit, s.used),
                            fmt_budget(s.budget.unit, s.budget.limit), fmt_percent(s.percent), s.note]
                           for s in summary.budgets])
    return "\n".join(lines) + "\n"


def summary_json(summary):
    total, (before, previous) = summary.total, summary.previous
    limit = summary.window_limit
    share = summary.plan_share
    return {"period": {"kind": summary.kind, "first": summary.first.isoformat(), "last": summary.last.isoformat(),
                       "timezone": summary.tz_name},
            "totals": dict(usage_json(total), calls=total.calls),
            "previous": {"first": before[0].isoformat(), "last": before[1].isoformat(),
                         "totalCost": json_cost(previous), "totalTokens": previous.total_tokens,
                         "costChangePercent": round((total.cost - previous.cost) * 100 / previous.cost, 3)
                         if previous.cost else None},
            "apiValue": {"cost": json_cost(total), "planPrice": summary.plan_price,
                         "planPriceBasis": summary.plan_basis,
                         "planShare": None if share is None else round_cost(share),
                         "multiple": round(total.cost / share, 3) if share else None},
            "models": [dict(modelName=m, totalTokens=u.total_tokens, cost=json_cost(u))
                       for m, u in sorted(summary.models.items(), key=lambda item: (-item[1].cost, item[0]))],
            "projects": [dict(projectPath=p, totalTokens=u.total_tokens, cost=json_cost(u))
                         for p, u in sorted(summary.projects.items(), key=lambda item: (-item[1].cost, item[0] or ""))],
            "topSessions": [session_json(r) for r in summary.sessions],
            "windows": [{"startTime": _iso(w.start), "endTime": _iso(w.end), "entries": w.usage.calls,
                         "totalTokens": w.usage.total_tokens, "costUSD": json_cost(w.usage),
                         "limitReached": window_limit_reached(w, summary)} for w in summary.windows],
            "windowLimit": None if limit is None else {"tokens": limit.tokens, "basis": limit.basis,
                                                       "official": limit.official},
            "budgets": [budget_json(s) for s in summary.budgets]}


# ---------------------------------------------------------------------------
# Serving the figures over HTTP
# ---------------------------------------------------------------------------

SERVE_HOST, SERVE_PORT = "127.0.0.1", 9247
# However many requests come, the store is synced at most this often.
REFRESH_SECONDS = 1.0
# A request waits this long for the refresh it asked for, then has the figures it already had.
FRESH_WAIT_SECONDS = 1.0
# A connection quiet this long (reading its request, or taking the answer) is closed.
CONNECTION_TIMEOUT_SECONDS = 10
MAX_REQUEST_LINE = 4096
HISTORY_DAYS, MAX_HISTORY_DAYS = 7, 366
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Each path, and the query parameters it takes.
SERVE_ROUTES = {"/metrics": (), "/api/summary": (), "/api/history": ("days",), "/healthz": ()}
JSON_TYPE = "application/json"


class Snapshot:
    """Everything serve answers with, made from the store at one moment."""

    def __init__(self, made, metrics, summary, history, today, unpriced_models):
        self.made = made  # time.monotonic() when the refresh began
        self.metrics = metrics
        self.summary = summary
        self.history = history  # [(day, ReportRow)] of the last MAX_HISTORY_DAYS days
        self.today = today
        self.unpriced_models = unpriced_models


def make_snapshot(query, settings, made):
    """A Snapshot of what the query covers, now."""
    now_ms = int(time.time() * 1000)
    usage = usage_by_project_model(query, Filters())
    figures = active_window_figures(query, settings, now_ms)
    sessions, latest = store_activity(query)
    totals = Usage()
    for part in usage.values():
        totals.add(part)
    today = datetime.now(query.tz).date()
    rows = period_report(query, "daily", Filters(since=today - timedelta(days=MAX_HISTORY_DAYS - 1)),
                         WEEKDAYS.index(settings.start_of_week), False)
    metrics = prometheus_text(usage, figures, latest[0] if latest else None, now_ms,
                              request_stats(query, Filters()),
                              lambda usage: query.source_text(usage.roots))
    return Snapshot(made, metrics.encode("utf-8"), serve_summary_json(figures, totals, sessions, latest, now_ms),
                    [(date.fromisoformat(row.key), row) for row in rows], today, dict(query.unpriced_models))


class UsageServer:
    """serve's state: the latest Snapshot, and the thread that refreshes it when asked.

    Requests never touch the store: they answer from the snapshot, so an
    ingest (this process's or another's) never keeps them waiting long.  A
    request that finds the snapshot a second old asks for a refresh and waits
    a little for it; requests that find it fresher ask for nothing.
    """

    def __init__(self, args, settings, environ, messages):
        import threading
        self.args, self.settings, self.environ, self.messages = args, settings, environ, messages
        self.cond = threading.Condition()
        self.snapshot = None
        self.error = None
        self.attempts = self.refreshes = 0
        self.wanted = self.stopping = False
        self.thread = None

    def start(self):
        """Start refreshing and wait for the first snapshot; raise what keeps it from being made."""
        import threading
        self.thread = threading.Thread(target=self._run, name="ccusage-refresh", daemon=True)
        self.thread.start()
        with self.cond:
            while self.snapshot is None and self.error is None:
                self.cond.wait(0.5)  # a short wait lets a signal stop the start
            if self.snapshot is None:
                raise self.error

    def stop(self):
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        if self.thread is not None:
            self.thread.join(2)

    def current(self):
        """(the freshest snapshot, the last refresh's error or None)."""
        with self.cond:
            if time.monotonic() - self.snapshot.made >= REFRESH_SECONDS:
                self.wanted = True
                self.cond.notify_all()
                attempts = self.attempts
                self.cond.wait_for(lambda: self.attempts != attempts or self.stopping, FRESH_WAIT_SECONDS)
            return self.snapshot, self.error

    def _run(self):
        args, said = self.args, []
        while True:
            made = time.monotonic()
            # What a refresh says is said once, not every second while it holds.
            heard = Messages(stream=None)
            try:
                # Never waiting for another process's ingest: the store as it stands is the answer.
                with Session(args, self.settings, self.environ, heard, wait=False) as session:
                    snapshot = make_snapshot(session.query, self.settings, made)
                error = None
            except Exception as exc:  # kept for /healthz and the log: the server goes on
                snapshot, error = None, exc
            for line in heard.lines:
                if line not in said:
                    self.messages.say(line[len(PROG) + 2:])
            said = heard.lines
            # --verbose says what the first refresh read; the later ones would say it every second.
            args = argparse.Namespace(**dict(vars(args), verbose=False))
            with self.cond:
                if error is not None and self.snapshot is not None:
                    self.messages.warn(f"the figures were not refreshed: {error}")
                self.error = error
                self.attempts += 1
                if snapshot is not None:
                    self.snapshot = snapshot
                    self.refreshes += 1
                self.cond.notify_all()
                if self.snapshot is None:
                    return
                # Asked for by a request, and a second after the last refresh began.
                while not self.stopping and not (self.wanted and time.monotonic() - made >= REFRESH_SECONDS):
                    self.wanted = False
                    self.cond.wait()
                if self.stopping:
                    return
                self.wanted = False

    def respond(self, target):
        """(status, content type, body) answering a GET of target."""
        from urllib.parse import parse_qs, urlsplit
        parts = urlsplit(target)
        try:
            params = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query),
                              max_num_fields=8)
        except ValueError:
            return _json_answer(400, {"error": "malformed query string"})
        if parts.path not in SERVE_ROUTES:
            return _json_answer(404, {"error": "no such path; try " + ", ".join(SERVE_ROUTES)})
        taken = SERVE_ROUTES[parts.path]
        if set(params) - set(taken) or any(len(values) > 1 for values in params.values()):
            return _json_answer(400, {"error": f"{parts.path} takes " + (", ".join(taken) or "no parameters")
                                      + ", once each"})
        snapshot, error = self.current()
        if parts.path == "/healthz":
            health = {"status": "ok" if error is None else "error", "refreshes": self.refreshes,
                      "error": None if error is None else str(error)}
            return _json_answer(200 if error is None else 503, health)
        if parts.path == "/metrics":
            return 200, METRICS_TYPE, snapshot.metrics
        if parts.path == "/api/summary":
            return _json_answer(200, snapshot.summary)
        days = params.get("days", [str(HISTORY_DAYS)])[0]
        if not re.fullmatch("[0-9]{1,4}", days) or not 1 <= int(days) <= MAX_HISTORY_DAYS:
            return _json_answer(400, {"error": f"days must be a whole number from 1 to {MAX_HISTORY_DAYS}"})
        since = snapshot.today - timedelta(days=int(days) - 1)
        rows = [row for day, row in snapshot.history if day >= since]
        return _json_answer(200, {"daily": [row_json(row, date=row.key) for row in rows],
                                  "totals": totals_json(rows, snapshot.unpriced_models)})


def _json_answer(status, data):
    return status, JSON_TYPE, (json_line(data) + "\n").encode("utf-8")


def is_loopback(host):
    """Is host an address (or the name localhost) that only this machine reaches?"""
    import ipaddress
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def http_server(host, port, usage):
    """A threading HTTP server bound to host:port, answering from usage (a UsageServer), read-only."""
    import socket
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # A request line of one word is garbage, not HTTP/0.9: it is answered with a status line.
        default_request_version = "HTTP/1.1"
        timeout = CONNECTION_TIMEOUT_SECONDS

        def version_string(self):
            return f"{PROG}/{__version__}"

        def parse_request(self):
            if len(self.raw_requestline) > MAX_REQUEST_LINE:
                self.command, self.request_version = None, self.default_request_version
                self.requestline = "(a request line too long to log)"
                self.send_error(400, f"request line over {MAX_REQUEST_LINE} bytes")
                return False
            if not super().parse_request():
                return False
            if self.command not in ("GET", "HEAD"):
                self.close_connection = True
                self._answer(*_json_answer(405, {"error": "read-only: GET and HEAD only"}),
                             extra=(("Allow", "GET, HEAD"),))
                return False
            if self.headers.get("Content-Length", "0").strip() not in ("", "0") or "Transfer-Encoding" in self.headers:
                self.send_error(400, "a GET or HEAD request has no body")
                return False
            return True

        def send_error(self, code, message=None, explain=None):
            from http import HTTPStatus
            self.close_connection = True
            self._answer(*_json_answer(code, {"error": message or HTTPStatus(code).phrase}))

        def do_GET(self):
            self._answer(*usage.respond(self.path))

        do_HEAD = do_GET

        def _answer(self, status, kind, body, extra=()):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in extra:
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_request(self, code="-", size="-"):
            if usage.args.verbose or str(code)[:1] in ("4", "5"):
                self.log_message("%s %s", self.requestline, code)

        def log_message(self, format, *args):
            text = f"{self.client_address[0]} " + format % args
            usage.messages.note(text if len(text) <= 300 else text[:300] + "…")

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

        def handle_error(self, request, client_address):
            usage.messages.note(f"{client_address[0]}: connection dropped: {_reason(sys.exc_info()[1])}")

    try:
        return Server((host.strip("[]"), port), Handler)
    except OSError as exc:
        raise CcusageError(f"cannot listen on {host}:{port}: {_reason(exc)}")


class ServeStopped(BaseException):
    """SIGTERM or SIGINT: serve stops answering and returns."""


# ---------------------------------------------------------------------------
# Live view
# ---------------------------------------------------------------------------

LIVE_VIEWS = ("overview", "sessions", "models", "history", "help")
LIVE_VIEW_TITLES = {"overview": "Overview", "sessions": "Sessions", "models": "Models", "history": "History",
                    "help": "Help"}
# A call this recent makes the view say Active.
ACTIVE_MINUTES = 5
RECENT_CALLS = 25
SPARK_BUCKET_MS = 5 * MINUTE_MS
SPARK_BUCKETS = 24
LIVE_HISTORY_DAYS = 30
WARN_PERCENT = 80
# Below this the view gives up its panels for a one-line message.
LIVE_MIN_ROWS, LIVE_MIN_COLUMNS = 6, 40
# Periods beside the tiers from this width on.
LIVE_SIDE_BY_SIDE_COLUMNS = 110
PERIODS_WIDTH = 44
WINDOW_ROWS, WINDOW_COMPACT_ROWS, PERIODS_ROWS, TIERS_ROWS, RECENT_MIN_ROWS = 6, 3, 4, 6, 3
SPARK_CHARS, SPARK_ASCII = " ▁▂▃▄▅▆▇█", " .:-=+*#@"


class LiveData:
    """What the live view shows, read from the store at one moment (see load)."""

    def __init__(self, now_ms, tz, settings):
        self.now = now_ms
        self.tz = tz
        self.settings = settings
        self.length_ms = int(settings.session_length * HOUR_MS)
        self.status = self.limit = self.weekly = None
        self.windows = []
        self.periods = []
        self.days = {}
        self.tiers = []
        self.models_today = {}
        self.models_month = {}
        self.sessions = []
        self.recent = []
        self.requests = []
        self.spark = [0] * SPARK_BUCKETS
        self.official_trend = None
        self.last_call = None
        self.unpriced = {}

    @classmethod
    def load(cls, query, settings, now_ms):
        """Everything on every view, from the existing queries and a few small SELECTs over the calls."""
        data = cls(now_ms, query.tz, settings)
        tz = query.tz
        data.status, data.windows, data.limit, data.weekly = current_status(query, settings, now_ms)
        today = datetime.fromtimestamp(now_ms / 1000, tz).date()
        week_start = first_day_of_week(today, WEEKDAYS.index(settings.start_of_week))
        month_start = today.replace(day=1)
        first = min(today - timedelta(days=LIVE_HISTORY_DAYS - 1), week_start, month_start)
        data.days = {date.fromisoformat(row.key): row
                     for row in period_report(query, "daily", Filters(first, today), 0, False)}
        for label, start in (("Today", today), ("This week", week_start), ("This month", month_start)):
            total = Usage()
            for day, row in data.days.items():
                if day >= start:
                    total.add(row.total)
            data.periods.append((label, total))
        for day, row in data.days.items():
            for model, usage in row.models.items():
                if day >= month_start:
                    data.models_month.setdefault(model, Usage()).add(usage)
                if day == today:
                    data.models_today.setdefault(model, Usage()).add(usage)
        tiers = {}
        for model, usage in data.models_today.items():
            tiers.setdefault(TIER_NAMES[model_tier(model)], Usage()).add(usage)
        order = list(TIER_NAMES.values())
        data.tiers = sorted(tiers.items(), key=lambda item: (-item[1].cost, order.index(item[0])))
        since = min(local_midnight_ms(today, tz), now_ms - data.length_ms)
        data.sessions = sorted((row for row in session_report(
            query, Filters(datetime.fromtimestamp(since / 1000, tz).date())) if row.total.last >= since),
            key=lambda row: -row.total.last)
        data.recent = recent_calls(query, RECENT_CALLS)
        data.last_call = data.recent[0][0] if data.recent else None
        by_tier = {}
        for (model, _), part in request_stats(query, Filters(today, today)).items():
            by_tier.setdefault(model_tier(model), RequestStats()).add(part)
        data.requests = [(tier, by_tier[tier]) for tier in TIER_NAMES if tier in by_tier]
        data.spark = token_buckets(query, now_ms)
        if data.status is not None and data.status.official:
            data.official_trend = official_trend(query, data.status.official, now_ms)
        data.unpriced = dict(query.unpriced_models)
        return data

    @property
    def active(self):
        return self.last_call is not None and self.now - self.last_call < ACTIVE_MINUTES * MINUTE_MS

    def window_peaks(self):
        """{local day: the most tokens a window that started that day used}."""
        peaks = {}
        for window in self.windows:
            if not window.is_gap:
                day = datetime.fromtimestamp(window.start / 1000, self.tz).date()
                peaks[day] = max(peaks.get(day, 0), window.tokens)
        return peaks


def recent_calls(query, count):
    """[(ts, model name, priced Usage, project path, agent, source file)] of the latest count calls, newest
    first; agent and source file None where no request log of the roots in use names them."""
    where, params = query._where(Filters(), "ts")
    mask = query.roots_mask
    # A request log keys a response by its message id; a transcript that saw it too gave the call the key
    # "message id:request id".  A log's own key (a uuid, a hash) may hold a colon too: it is looked up
    # whole first.
    rows = query.conn.execute(
        "SELECT recent.*, projects.path, coalesce(whole.agent, part.agent), "
        "coalesce(whole.source_file, part.source_file) "
        f"FROM (SELECT ts, model_id, fast, us_geo, {BAND_SQL}, {query.era_sql()}, cost_usd IS NOT NULL, "
        "input, output, cache_write_5m, cache_write_1h, cache_read, web_searches, cost_usd, key, project_id "
        f"FROM calls WHERE {where} ORDER BY ts DESC LIMIT ?) AS recent "
        "JOIN projects ON projects.id = recent.project_id "
        f"LEFT JOIN requests AS whole ON whole.key = recent.key AND (whole.roots & {mask}) != 0 "
        "LEFT JOIN requests AS part ON whole.key IS NULL AND instr(recent.key, ':') > 0 "
        f"AND part.key = substr(recent.key, 1, instr(recent.key, ':') - 1) AND (part.roots & {mask}) != 0 "
        "ORDER BY recent.ts DESC",
        params + [count]).fetchall()
    return [(row[W_TS], query.model_name(row[W_MODEL]), price_calls(query, [row[:len(WINDOW_ROW)]]))
            + tuple(row[-3:]) for row in rows]


def token_buckets(query, now_ms):
    """Tokens per SPARK_BUCKET_MS of the last SPARK_BUCKETS of them, the last holding now."""
    where, params = query._where(Filters(), "ts")
    start = (now_ms // SPARK_BUCKET_MS - SPARK_BUCKETS + 1) * SPARK_BUCKET_MS
    buckets = [0] * SPARK_BUCKETS
    for index, tokens in query.conn.execute(
            f"SELECT (ts - ?) / {SPARK_BUCKET_MS}, sum(input + output + cache_write_5m + cache_write_1h + cache_read) "
            f"FROM calls WHERE {where} AND ts >= ? AND ts <= ? GROUP BY 1", [start] + params + [start, now_ms]):
        buckets[index] = tokens
    return buckets


def official_trend(query, official, now_ms):
    """When the official 5-hour figure reaches 100% at its pace over the last BURN_SPAN_MINUTES, or None."""
    resets = official[2]
    points = query.conn.execute(
        "SELECT captured_at, used_percentage FROM rate_limits WHERE window = 'five_hour' AND resets_at = ? "
        "AND captured_at >= ? ORDER BY captured_at",
        (resets // 1000, now_ms - BURN_SPAN_MINUTES * MINUTE_MS)).fetchall()
    if len(points) < 2 or points[-1][1] <= points[0][1] or points[-1][0] == points[0][0]:
        return None
    per_ms = (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0])
    return points[-1][0] + int((100 - points[-1][1]) / per_ms) if points[-1][1] < 100 else points[-1][0]


class LiveSource:
    """The live view's one way into the store: open it, read what is new in the logs, load a LiveData.

    Never waits on another process: a store that another ccusage is writing
    is said in messages, and what it already holds is shown.
    """

    def __init__(self, settings, environ, messages, args=None):
        self.messages = messages
        self.prices = _price_book(settings)
        self.tz = load_timezone(settings.timezone)
        self.sources = log_sources(settings, environ, messages, args)
        self.store = Store(store_path(settings, environ), messages)
        self.root_ids = []
        self.source_names = None

    def sync(self, budget=None):
        """Read the logs' new bytes, for at most budget seconds; return what tells the store's states apart."""
        if self.store.conn is None:
            # Opening a replaced store failed last round: try it afresh.
            self.store = Store(self.store.path, self.messages)
        report = ScanReport()
        # A quick walk looks only at the logs written lately, with a whole walk once a minute.
        self.store.sync(self.sources.existing, report, wait=False, parallel=False, budget=budget, quick=True,
                        kinds=self.sources.kinds)
        if report.busy:
            self.messages.note("the store is busy (another ccusage is writing to it): showing what it holds")
        ids = self.store.root_ids(self.sources.roots, self.sources.kinds)
        self.root_ids = list(ids.values())
        self.source_names = self.sources.names_of(ids)
        return self.store.conn.execute(
            "SELECT (SELECT value FROM generation), (SELECT max(captured_at) FROM rate_limits), "
            "(SELECT count(*) FROM rate_limits)").fetchone()

    def load(self, settings, now_ms):
        query = UsageQuery(self.store, self.root_ids, self.prices, self.tz, settings.mode, self.source_names)
        return LiveData.load(query, settings, now_ms)

    def close(self):
        self.store.close()


# -- layout and drawing: pure functions of the state and a size --

class Box:
    __slots__ = ("top", "left", "height", "width")

    def __init__(self, top, left, height, width):
        self.top, self.left, self.height, self.width = top, left, height, width

    def __repr__(self):
        return f"Box({self.top}, {self.left}, {self.height}, {self.width})"


def layout(h, w):
    """{panel: Box} of an h-row, w-column screen.

    "small" alone when the screen is too small for the view; else a header
    and a footer row around "body" (where every view but the overview draws),
    and the overview's panels in the body, each only when it and all before
    it fit: the window (compact when short of rows), the day, week and month
    sums, the model tiers, and the recent calls in what is left.  So as the
    screen shrinks they give way one by one, the recent calls first.  From
    LIVE_SIDE_BY_SIDE_COLUMNS on, the sums and the tiers share their rows.
    """
    if h < LIVE_MIN_ROWS or w < LIVE_MIN_COLUMNS:
        return {"small": Box(0, 0, 1, w)} if h > 0 and w > 0 else {}
    boxes = {"header": Box(0, 0, 1, w), "footer": Box(h - 1, 0, 1, w), "body": Box(1, 0, h - 2, w)}
    top, bottom = 1, h - 1
    rows = WINDOW_ROWS if bottom - top >= WINDOW_ROWS else WINDOW_COMPACT_ROWS
    boxes["window"] = Box(top, 0, rows, w)
    top += rows
    if w >= LIVE_SIDE_BY_SIDE_COLUMNS and bottom - top >= TIERS_ROWS:
        boxes["periods"] = Box(top, 0, PERIODS_ROWS, PERIODS_WIDTH)
        boxes["tiers"] = Box(top, PERIODS_WIDTH + 2, TIERS_ROWS, w - PERIODS_WIDTH - 2)
        top += TIERS_ROWS
    elif bottom - top >= PERIODS_ROWS + TIERS_ROWS:
        boxes["periods"] = Box(top, 0, PERIODS_ROWS, w)
        boxes["tiers"] = Box(top + PERIODS_ROWS, 0, TIERS_ROWS, w)
        top += PERIODS_ROWS + TIERS_ROWS
    else:
        if bottom - top >= PERIODS_ROWS:
            boxes["periods"] = Box(top, 0, PERIODS_ROWS, w)
        return boxes
    if bottom - top >= RECENT_MIN_ROWS:
        boxes["recent"] = Box(top, 0, bottom - top, w)
    return boxes


class LiveState:
    """What the user has chosen (view, scroll, plan) and the data shown."""

    def __init__(self, settings, interval, view, unicode=True):
        self.base_settings = settings
        self.interval = interval
        self.view = view
        self.unicode = unicode
        self.scroll = dict.fromkeys(LIVE_VIEWS, 0)
        # None: as configured; then the plans not configured, each with its estimated limit.
        self.plans = [None] + [plan for plan in ("auto", "pro", "max5", "max20")
                               if plan != settings.plan or settings.token_limit is not None]
        self.plan_index = 0
        self.data = None
        self.message = ""
        self.version = __version__

    @property
    def settings(self):
        """The settings with the plan chosen by p (None: as configured)."""
        plan = self.plans[self.plan_index]
        if plan is None:
            return self.base_settings
        chosen = Settings(self.base_settings.path)
        chosen.values = dict(self.base_settings.values, plan=plan, token_limit=None)
        chosen.sources = dict(self.base_settings.sources, plan="key p", token_limit="key p")
        chosen.prices = self.base_settings.prices
        return chosen

    def handle(self, action, page):
        """Apply an input action (see live_keys); page: rows a page scrolls.  Returns what the loop must do."""
        if action in ("quit", "refresh", "export"):
            return action
        views = LIVE_VIEWS.index(self.view)
        if action in ("next", "prev"):
            self.view = LIVE_VIEWS[(views + (1 if action == "next" else -1)) % len(LIVE_VIEWS)]
        elif action == "help":
            self.view = "overview" if self.view == "help" else "help"
        elif action == "plan":
            self.plan_index = (self.plan_index + 1) % len(self.plans)
            self.message = f"plan: {self.plan_label()}"
            return "reload"
        elif action in SCROLLS:
            offset = self.scroll[self.view]
            self.scroll[self.view] = max(0, {"up": offset - 1, "down": offset + 1, "page_up": offset - page,
                                             "page_down": offset + page, "home": 0, "end": 10 ** 9}[action])
        return "draw"

    def plan_label(self):
        settings = self.settings
        if settings.token_limit is not None:
            return "custom" if settings.token_limit != "max" else "largest window"
        return PLAN_NAMES.get(settings.plan, settings.plan)


SCROLLS = ("up", "down", "page_up", "page_down", "home", "end")


def live_keys(curses):
    """{key code: action} of the live view."""
    return {ord("q"): "quit", ord("Q"): "quit", 9: "next", curses.KEY_BTAB: "prev",
            ord("r"): "refresh", ord("p"): "plan", ord("e"): "export", ord("?"): "help", ord("h"): "help",
            curses.KEY_UP: "up", curses.KEY_DOWN: "down", ord("k"): "up", ord("j"): "down",
            curses.KEY_PPAGE: "page_up", curses.KEY_NPAGE: "page_down",
            curses.KEY_HOME: "home", curses.KEY_END: "end"}


def _fit(text, width):
    return text if len(text) <= width else text[:max(width - 1, 0)] + "…"


def _table_lines(table, width):
    """A Table's lines without its rule, for a panel short of rows."""
    # The live view takes no --json.
    table.shown_by = "a wider terminal"
    lines = table.render(width, Style(False)).split("\n")
    return [lines[0]] + lines[2:]


def _percent_kind(percent):
    if percent is None:
        return None
    return "over" if percent >= 100 else "warn" if percent >= WARN_PERCENT else "ok"


def _gauge(percent, width, unicode, empty=True):
    filled = min(width, int(round(width * min(percent, 100) / 100)))
    full, rest = ("█", "░") if unicode else ("#", "-")
    return full * filled + (rest if empty else " ") * (width - filled)


def sparkline(buckets, unicode):
    top = max(buckets) or 1
    chars = SPARK_CHARS if unicode else SPARK_ASCII
    return "".join(chars[0 if not n else max(1, round(n / top * (len(chars) - 1)))] for n in buckets)


def draw_header(state, width):
    data = state.data
    parts = [(f"ccusage {state.version} live", "title")]
    parts.append(("  Active" if data.active else "  Idle", "ok" if data.active else "dim"))
    interval = f"{state.interval:g}s"
    zone = data.settings.timezone or system_timezone_name()
    parts.append((f"  every {interval}  plan {state.plan_label()}  {clean(zone)}", None))
    status = data.status
    if status is not None and status.official:
        parts.append((f"  official, {_duration(data.now - status.official[0])} old", "ok"))
    else:
        parts.append(("  estimated", "warn"))
    clock = _clock(data.now, data.tz)
    used = sum(len(text) for text, _ in parts)
    if used + len(clock) + 2 <= width:
        parts.append((" " * (width - used - len(clock)) + clock, None))
    return [parts]


def draw_window(data, box, unicode):
    """The current window: gauge, tokens, cost, time left, burn rate, the limit's moment, the last two hours."""
    status, width = data.status, box.width
    tz = data.tz
    spark = [("Last 2h ", "dim"), (sparkline(data.spark, unicode), "ok"), (" (5 min a bar)", "dim")]
    # weekly_line's text without its label.
    weekly = [("   7-day " + weekly_line(data.weekly, data.now, tz).split(None, 1)[1], None)] if data.weekly else []
    if status is None:
        last = next((w for w in reversed(data.windows) if not w.is_gap), None)
        lines = [[(f"5-hour window: none active ({why_no_window(last, data.now, data.length_ms, tz)})", "title")],
                 spark + weekly]
        return lines[:box.height]
    window, limit, usage = status.window, status.limit, status.window.usage
    reset_note = " (official)" if status.official else " (from a limit message)" if window.reset_at else ""
    title = [(f"5-hour window {_clock(window.start, tz)} to {_clock(window.end, tz)}", "title"),
             (f"   resets {_clock(status.resets_at, tz)}{reset_note}, in {_duration(status.resets_at - data.now)}",
              None)]
    percent = status.percent_used
    if percent is None:
        gauge = [(f"{fmt_int(usage.total_tokens)} tokens; {limit.basis}", "dim")]
    else:
        of = "official" if status.official else f"of {fmt_compact(limit.tokens)} tokens"
        bar = max(10, min(40, width // 3))
        gauge = [("[" + _gauge(percent, bar, unicode) + "]", _percent_kind(percent)),
                 (f" {percent:3.0f}%", _percent_kind(percent)), (f"  {of}", "dim")]
    figures = [(f"Tokens {fmt_int(usage.total_tokens)}   Cost {fmt_cost(usage)}   Calls {fmt_int(usage.calls)}   "
                f"Models {', '.join(short_model(m) for m in sorted(window.models))}", None)]
    burn = [(f"Burn   {fmt_int(round(status.tokens_per_minute))} tokens/min, ${status.cost_per_hour:,.2f}/h "
             f"(last {status.span_minutes:.0f} min)", None)]
    if box.height < WINDOW_ROWS:
        return [title, gauge, figures + [("   ", None)] + burn[:1]][:box.height]
    basis = [] if status.official or percent is None else [(f"   limit: {limit.basis}", "dim")]
    return [title, gauge, figures, burn, _limit_line(data) + basis, spark + weekly]


def _limit_line(data):
    status, tz = data.status, data.tz
    if status.reached:
        return [("Limit  reached", "over")]
    at, source = status.limit_at, "at this rate"
    if data.official_trend is not None:
        at, source = data.official_trend, "at the official figure's pace"
    if at is None:
        return [("Limit  " + ("unknown" if not status.limit.tokens and not status.official else
                              "not reached at the current rate"), "dim")]
    if at < status.resets_at:
        return [(f"Limit  at {_clock(at, tz)} {source} (in {_duration(at - data.now)})", "warn")]
    return [(f"Limit  not before the reset {source}", "ok")]


def draw_periods(data, box):
    table = Table(["Spent", "Cost", "Tokens", "Calls"], ["<", ">", ">", ">"], shrink=[3, Table.NUMBERS],
                  compact_columns=(2,))
    for label, usage in data.periods:
        table.add([label, fmt_cost(usage), fmt_int(usage.total_tokens), fmt_int(usage.calls)])
    return [[(line, "head" if i == 0 else None)] for i, line in enumerate(_table_lines(table, box.width))]


def _usage_table(first, rows, width):
    """A table of (label cells, Usage, share) rows: cost, share, calls and the four kinds of tokens."""
    table = Table(first + ["Cost", "Share", "Calls", "In", "Out", "Cache wr", "Cache rd"],
                  ["<"] * len(first) + [">"] * 7, shrink=[Table.NUMBERS] + [len(first) + i for i in (6, 5, 3, 2)],
                  compact_columns=tuple(range(len(first) + 3, len(first) + 7)), cut=0)
    for labels, usage, share in rows:
        table.add(labels + [fmt_cost(usage), f"{share:.0f}%", fmt_int(usage.calls), fmt_int(usage.input),
                            fmt_int(usage.output), fmt_int(usage.cache_write), fmt_int(usage.cache_read)])
    return _table_lines(table, width)


def _shares(items):
    total = sum(usage.cost for _, usage in items) or 1
    return [(usage.cost * 100 / total) for _, usage in items]


def draw_tiers(data, box):
    title = [[("Today by model tier", "title")]]
    if not data.tiers:
        return title + [[("No calls today.", "dim")]]
    rows = [([tier], usage, share) for (tier, usage), share in zip(data.tiers, _shares(data.tiers))]
    lines = _usage_table(["Tier"], rows, box.width)
    return title + [[(line, "head" if i == 0 else None)] for i, line in enumerate(lines)]


def draw_recent(data, box, scroll):
    """The title, header and the recent calls from scroll on, as many as box holds."""
    title = [[(f"Recent calls (the last {len(data.recent)})", "title")]]
    if not data.recent:
        return title + [[("No calls yet.", "dim")]]
    rows = data.recent[scroll:scroll + box.height - 2]
    # The agent and the source file a request log names: columns only when a recent call has them.
    logged = any(call[4] is not None or call[5] is not None for call in data.recent)
    table = Table(["Time", "Model", "Tokens", "Cost", "Project"] + (["Agent", "File"] if logged else []),
                  ["<", "<", ">", ">", "<"] + (["<", "<"] if logged else []),
                  shrink=[6, 5, 4] if logged else [4], cut=4)
    for ts, model, usage, project, agent, source_file in rows:
        table.add([_clock(ts, data.tz) + datetime.fromtimestamp(ts / 1000, data.tz).strftime(":%S"),
                   short_model(model), fmt_int(usage.total_tokens), fmt_cost(usage),
                   clean(os.path.basename(project.rstrip("/")) or project)]
                  + ([clean(agent or ""), clean(source_file or "")] if logged else []))
    lines = _table_lines(table, box.width)
    return title + [[(line, "head" if i == 0 else None)] for i, line in enumerate(lines)]


def view_lines(state, width):
    """(pinned lines, scrolled lines) of a view other than the overview."""
    data, view = state.data, state.view
    if view == "help":
        return [[("Keys", "title")]], [[(line, None)] for line in LIVE_HELP]
    if view == "sessions":
        table = Table(["Session", "Project", "Models", "Calls", "Tokens", "Cost", "Last"],
                      ["<", "<", "<", ">", ">", ">", "<"], shrink=[2, Table.NUMBERS], compact_columns=(4,), cut=1)
        for row in data.sessions:
            active = data.now - row.total.last < data.length_ms
            table.add([short_session(row.session), clean(os.path.basename((row.project or "").rstrip("/"))),
                       ", ".join(short_model(m) for m in sorted(row.models)), fmt_int(row.total.calls),
                       fmt_int(row.total.total_tokens), fmt_cost(row.total),
                       _clock(row.total.last, data.tz) + (" active" if active else "")])
        title = [[(f"Sessions of today and the last {_duration(data.length_ms)} ({len(data.sessions)})", "title")]]
        if not data.sessions:
            return title, [[("No sessions today.", "dim")]]
        return _pinned(title, _table_lines(table, width))
    if view == "models":
        items = sorted(data.models_month.items(), key=lambda item: (-item[1].cost, item[0]))
        title = [[("Models this month (Today: today's cost)", "title")]]
        if not items:
            pinned, lines = title, [[("No calls this month.", "dim")]]
        else:
            rows = [([short_model(model), TIER_NAMES[model_tier(model)],
                      fmt_cost(data.models_today.get(model, Usage()))], usage, share)
                    for (model, usage), share in zip(items, _shares(items))]
            pinned, lines = _pinned(title, _usage_table(["Model", "Tier", "Today"], rows, width))
        return pinned, lines + request_lines(data, width)
    return history_lines(data, width, state.unicode)


def request_lines(data, width):
    """The models view's part on today's requests per tier, from the request logs; none without them."""
    if not data.requests:
        return []
    table = Table(["Tier"] + REQUEST_HEADERS, ["<"] + [">"] * len(REQUEST_HEADERS), shrink=[5, 6, 2])
    for tier, stats in data.requests:
        table.add([TIER_NAMES[tier]] + request_cells(stats))
    lines = _table_lines(table, width)
    return [[("", None)], [("Requests today by tier (latency by nearest rank)", "title")],
            [(lines[0], "head")]] + [[(line, None)] for line in lines[1:]]


def _pinned(title, lines):
    return title + [[(lines[0], "head")]], [[(line, None)] for line in lines[1:]]


def history_lines(data, width, unicode):
    today = datetime.fromtimestamp(data.now / 1000, data.tz).date()
    days = [today - timedelta(days=n) for n in range(LIVE_HISTORY_DAYS)]
    peaks = data.window_peaks()
    limit = data.limit.tokens if data.limit is not None else None
    top = max([data.days[d].total.cost for d in days if d in data.days] + [0.0]) or 1.0
    title = [[(f"Daily cost, the last {LIVE_HISTORY_DAYS} days; peak: the day's largest window"
               + (f" (of {fmt_compact(limit)})" if limit else ""), "title")]]
    bar_width = max(5, min(50, width - 40))
    lines = []
    for day in days:
        usage = data.days[day].total if day in data.days else Usage()
        bar = _gauge(usage.cost * 100 / top, bar_width, unicode, empty=False)
        peak = peaks.get(day)
        peak_text = "" if not peak else f"{peak * 100 / limit:4.0f}%" if limit else fmt_compact(peak)
        lines.append([(day.strftime("%a %m-%d "), None), (bar, "ok"), (f" {fmt_cost(usage):>10}", None),
                      (f"  peak {peak_text}" if peak_text else "", _percent_kind(peak * 100 / limit)
                       if peak and limit else "dim")])
    return title, lines


LIVE_HELP = [
    "q, Ctrl-C          quit",
    "Tab, Shift-Tab     the next, the previous view",
    "r                  refresh now",
    "Up, Down, j, k     scroll a line (the recent calls on the overview)",
    "PgUp, PgDn         scroll a page",
    "Home, End          to the top, to the end",
    "p                  the next plan to measure the window against",
    "e                  write the data on screen to a JSON file",
    "?, h               this help, and back",
    "",
    "The window's percent is official when Claude Code's status line has",
    "recorded it (the header says how old), else an estimate against the",
    "plan's limit.  Every interval the view reads only what is new in the logs.",
]


def draw_footer(state, width):
    if state.message:
        return [[(clean(state.message), "warn")]]
    tabs = []
    for view in LIVE_VIEWS:
        tabs.append((f" {LIVE_VIEW_TITLES[view]} ", "selected" if view == state.view else None))
    room = width - sum(len(text) for text, _ in tabs)
    keys = next((keys for keys in FOOTER_KEYS if len(keys) <= room), "")
    return [tabs + [(keys, "dim")]]


# The footer's keys, the longest that fits.
FOOTER_KEYS = ("  q quit  Tab view  r refresh  p plan  e export  ? help", "  q quit  Tab view  ? help",
               "  q quit  ? help")


def compose(state, h, w):
    """The screen as rows of (column, text, kind) pieces: what curses paints and --once prints."""
    boxes = layout(h, w)
    frame = [[] for _ in range(max(h, 0))]
    if "small" in boxes:
        text = f"too small ({w}x{h}); needs {LIVE_MIN_COLUMNS}x{LIVE_MIN_ROWS}"
        frame[0].append((0, _fit(text if len(text) <= w else f"too small ({w}x{h})", w), "warn"))
        return frame
    if not boxes:
        return frame
    _place(frame, boxes["header"], draw_header(state, w))
    _place(frame, boxes["footer"], draw_footer(state, w))
    data = state.data
    if state.view == "overview":
        _place(frame, boxes["window"], draw_window(data, boxes["window"], state.unicode))
        if "periods" in boxes:
            _place(frame, boxes["periods"], draw_periods(data, boxes["periods"]))
        if "tiers" in boxes:
            _place(frame, boxes["tiers"], draw_tiers(data, boxes["tiers"]))
        if "recent" in boxes:
            box = boxes["recent"]
            state.scroll["overview"] = min(state.scroll["overview"], max(0, len(data.recent) - (box.height - 2)))
            _place(frame, box, draw_recent(data, box, state.scroll["overview"]))
        return frame if state.unicode else _ascii_frame(frame)
    box = boxes["body"]
    pinned, lines = view_lines(state, w)
    room = max(box.height - len(pinned), 0)
    state.scroll[state.view] = min(state.scroll[state.view], max(0, len(lines) - room))
    start = state.scroll[state.view]
    shown = lines[start:start + room]
    if start + room < len(lines) and shown:
        shown[-1] = [(f"… {len(lines) - start - room + 1} more (PgDn)", "dim")]
    _place(frame, box, pinned + shown)
    return frame if state.unicode else _ascii_frame(frame)


def _ascii_frame(frame):
    """A frame for a terminal without Unicode: the ellipses of cut texts as ~ (one cell, as they were)."""
    return [[(column, text.replace("…", "~"), kind) for column, text, kind in row] for row in frame]


def page_rows(state, h, w):
    boxes = layout(h, w)
    box = boxes.get("recent" if state.view == "overview" else "body")
    return max((box.height - 3) if box else 1, 1)


def _place(frame, box, lines):
    for row, segments in zip(range(box.top, box.top + box.height), lines):
        column = box.left
        for text, kind in segments:
            room = box.left + box.width - column
            if room <= 0:
                break
            text = _fit(text, room)
            if text:
                frame[row].append((column, text, kind))
            column += len(text)


def frame_text(frame):
    """The plain text of a composed frame, one string per row."""
    rows = []
    for pieces in frame:
        line = ""
        for column, text, _ in pieces:
            line = line.ljust(column) + text
        rows.append(line.rstrip())
    return rows


def _calls_json(usage):
    return dict(usage_json(usage), calls=usage.calls)


def live_snapshot(state):
    """The data on screen as JSON-ready dicts (the `e` key)."""
    data = state.data
    status = data.status
    return {
        "capturedAt": _iso(data.now), "view": state.view, "plan": state.plan_label(), "active": data.active,
        "window": status_json(status, data.limit, data.weekly, data.now),
        "periods": {label: _calls_json(u) for label, u in data.periods},
        "tiersToday": [dict(_calls_json(u), tier=tier) for tier, u in data.tiers],
        "modelsThisMonth": [dict(_calls_json(u), model=m) for m, u in sorted(data.models_month.items())],
        "sessions": [session_json(row) for row in data.sessions],
        "recentCalls": [dict(_calls_json(u), time=_iso(ts), model=model, projectPath=project, agent=agent,
                             sourceFile=source_file)
                        for ts, model, u, project, agent, source_file in data.recent],
        "requestsToday": [dict(request_json(stats), tier=tier) for tier, stats in data.requests],
        "history": [dict(_calls_json(row.total), date=day.isoformat()) for day, row in sorted(data.days.items())],
        "lastTwoHoursTokens": data.spark,
    }


def write_snapshot(state, environ):
    """Write live_snapshot to a file in the working directory (else the temporary one); return its path."""
    import json
    name = datetime.fromtimestamp(state.data.now / 1000, state.data.tz).strftime("ccusage-live-%Y%m%d-%H%M%S.json")
    text = json.dumps(live_snapshot(state), indent=2, ensure_ascii=False)
    text = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"
    for directory in (os.getcwd(), environ.get("TMPDIR") or "/tmp"):
        path = os.path.join(directory, name)
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            return path
        except OSError as exc:
            error = exc
    raise CcusageError(f"cannot write the snapshot {name}: {_reason(error)}")


# -- the loop: load, draw, handle input --

class LiveStop(Exception):
    """A signal that ends the live view (SIGTERM, SIGHUP)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class LiveLoop:
    """Polls the store every interval, redraws when the data or a shown minute changed, handles keys."""

    def __init__(self, source, state, environ):
        self.source = source
        self.state = state
        self.environ = environ
        self.token = None
        self.minute = None

    def update(self, force=False, budget=None):
        """Read what is new (for at most budget seconds); reload when the store or the minute moved.

        force: reload all the same.  True: reloaded.
        """
        state = self.state
        token = self.source.sync(budget)
        minute = int(time.time() // 60)
        if not force and token == self.token and minute == self.minute:
            return False
        state.data = self.source.load(state.settings, int(time.time() * 1000))
        self.token, self.minute = token, minute
        if state.data.unpriced and not state.message:
            state.message = "no price for " + ", ".join(sorted(state.data.unpriced)) + ": left out of the costs"
        return True

    def refresh(self, force=False):
        """update, a failing store said in the footer and tried again at the next interval.  True: to redraw."""
        state = self.state
        try:
            # A large read (a store built anew) goes on over the rounds: keys are answered between them.
            changed = self.update(force, budget=state.interval)
        except (STORE_DAMAGE + (CcusageError,)) as exc:
            if _is_corruption(exc):
                # Set aside: the next round opens a new store and reads the logs into it.
                move_store_aside(self.source.store.path, exc, self.source.messages)
            state.message = f"the store is unavailable ({exc}); trying again in {state.interval:g}s"
            changed = True
        lines = self.source.messages.lines
        if lines:
            # The latest message, in the footer until a key is pressed.
            state.message = lines[-1][len(f"{PROG}: "):]
            del lines[:]
            changed = True
        return changed

    def run(self, screen, curses):
        state = self.state
        keys = live_keys(curses)
        paint = Painter(screen, curses, state.base_settings.color != "never")
        next_poll = time.monotonic() + state.interval
        dirty = True
        while True:
            if dirty:
                h, w = screen.getmaxyx()
                paint(compose(state, h, w))
                dirty = False
            screen.timeout(max(0, int((next_poll - time.monotonic()) * 1000)))
            key = screen.getch()
            if key == -1:
                early = next_poll - time.monotonic()
                if early > 0.01:
                    # No wait at all: the terminal is gone (a hangup ignored).  Never spin.
                    time.sleep(early)
                next_poll = time.monotonic() + state.interval
                dirty = self.refresh()
                continue
            if key == curses.KEY_RESIZE:
                curses.update_lines_cols()
                dirty = True
                continue
            action = keys.get(key)
            if action is None:
                continue
            state.message = ""
            h, w = screen.getmaxyx()
            todo = state.handle(action, page_rows(state, h, w))
            if todo == "quit":
                return
            if todo in ("refresh", "reload"):
                self.refresh(force=True)
            elif todo == "export" and state.data is not None:
                try:
                    state.message = f"wrote {write_snapshot(state, self.environ)}"
                except CcusageError as exc:
                    state.message = str(exc)
            dirty = True


class Painter:
    """Paints composed frames with curses attributes: colours where the terminal has them and colour is wanted."""

    def __init__(self, screen, curses, color):
        self.screen = screen
        self.curses = curses
        bold, reverse, dim = curses.A_BOLD, curses.A_REVERSE, getattr(curses, "A_DIM", 0)
        self.attrs = {None: 0, "title": bold, "head": bold, "dim": dim, "selected": reverse,
                      "ok": 0, "warn": bold, "over": bold | reverse}
        if color and curses.has_colors():
            curses.start_color()
            try:
                curses.use_default_colors()
                background = -1
            except curses.error:
                background = curses.COLOR_BLACK
            for number, (kind, fg) in enumerate((("ok", curses.COLOR_GREEN), ("warn", curses.COLOR_YELLOW),
                                                 ("over", curses.COLOR_RED)), 1):
                curses.init_pair(number, fg, background)
                self.attrs[kind] = curses.color_pair(number) | (bold if kind != "ok" else 0)

    def __call__(self, frame):
        screen = self.screen
        screen.erase()
        h, w = screen.getmaxyx()
        for row, pieces in enumerate(frame[:h]):
            for column, text, kind in pieces:
                try:
                    # addnstr leaves the last cell of the last row alone: writing it would scroll.
                    screen.addnstr(row, column, text, max(0, w - column - (row == h - 1)), self.attrs.get(kind, 0))
                except self.curses.error:
                    pass
        screen.refresh()


def _stop(signum, frame):
    raise LiveStop(signum)


def run_live(args, settings, environ, out, messages):
    """live: the curses view (or one frame as text with --once)."""
    state = LiveState(settings, args.interval, args.view,
                      unicode=(getattr(out, "encoding", "") or "").lower().replace("-", "") == "utf8")
    if args.once:
        source = LiveSource(settings, environ, messages, args)
        try:
            source.sync()
            state.data = source.load(state.settings, int(time.time() * 1000))
        finally:
            source.close()
        for model, calls in sorted(state.data.unpriced.items()):
            messages.warn(f"no price for model {model!r} ({fmt_count(calls, 'call')}): its cost is left out")
        try:
            height = int(environ.get("LINES", ""))
        except ValueError:
            height = 0
        width = terminal_columns()
        out.write("\n".join(frame_text(compose(state, height if height > 0 else 40, width))).rstrip("\n") + "\n")
        return EXIT_OK
    if not (out.isatty() and sys.stdin.isatty()):
        raise CcusageError("live needs a terminal; use --once to print one frame as text", EXIT_USAGE)
    if environ.get("TERM", "dumb") in ("dumb", "", "unknown"):
        raise CcusageError(f"live needs a terminal that can move the cursor (TERM={environ.get('TERM', '')!r}); "
                           "use --once to print one frame as text", EXIT_USAGE)
    source = LiveSource(settings, environ, messages, args)
    try:
        # The first load before the terminal is taken: what is wrong with the settings is said as usual.
        loop = LiveLoop(source, state, environ)
        loop.update(force=True)
        return _run_curses(loop)
    finally:
        source.close()


def _run_curses(loop):
    """Run loop in curses, the terminal restored however it ends; the exit status."""
    import curses
    import locale
    import signal
    try:
        locale.setlocale(locale.LC_ALL, "")
    except locale.Error:
        pass    # a LANG the system lacks: the C locale's ASCII view
    loop.state.unicode = locale.getpreferredencoding(False).lower().replace("-", "") == "utf8"
    previous = {signum: signal.signal(signum, _stop) for signum in (signal.SIGTERM, signal.SIGHUP)}
    messages = loop.source.messages
    stream = messages.stream
    try:
        try:
            screen = curses.initscr()
        except curses.error as exc:
            raise CcusageError(f"live cannot use this terminal ({exc}); use --once to print one frame as text",
                               EXIT_USAGE)
        try:
            # Messages are kept for the footer: written to stderr they would land on the screen.
            messages.stream = None
            curses.noecho()
            curses.cbreak()
            screen.keypad(True)
            try:
                curses.curs_set(0)
            except curses.error:
                pass
            loop.run(screen, curses)
            return EXIT_OK
        finally:
            messages.stream = stream
            try:
                # A terminal without an alternate screen would keep the last frame under the prompt.
                screen.erase()
                screen.refresh()
                screen.keypad(False)
                curses.nocbreak()
                curses.echo()
                curses.endwin()
            except curses.error:
                pass
    except KeyboardInterrupt:
        return EXIT_OK
    except LiveStop as stop:
        return 128 + stop.signum
    except CcusageError:
        raise
    except Exception as exc:
        raise CcusageError(f"the live view stopped: {type(exc).__name__}: {exc}")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------

REPORTS = ("daily", "weekly", "monthly", "session", "today")
WINDOW_COMMANDS = ("blocks", "status")
BUDGET_COMMANDS = ("check", "report")
DATA_COMMANDS = ("export", "serve", "prune")
SEGMENT_COMMANDS = ("prompt", "statusline")
COMMANDS = (REPORTS + ("models",) + WINDOW_COMMANDS + BUDGET_COMMANDS + SEGMENT_COMMANDS + ("live",) + DATA_COMMANDS
            + ("config",))
SHELLS = ("plain", "bash", "zsh", "fish", "tmux")
MODES = ("auto", "calculate", "display")
COLORS = ("auto", "always", "never")
ORDERS = ("asc", "desc")
PLANS = ("auto", "pro", "max5", "max20", "custom")


def _choice(*options):
    def convert(value, textual):
        if isinstance(value, str) and value.lower() in options:
            return value.lower()
        raise ValueError(f"one of {', '.join(options)}")
    return convert


def _zone(value, textual):
    if not isinstance(value, str) or not value.strip():
        raise ValueError("an IANA time zone name such as Europe/Berlin or UTC")
    try:
        load_timezone(value)
    except CcusageError:
        raise ValueError(f"an IANA time zone name such as Europe/Berlin or UTC, not {value!r}")
    return value


def _path(value, textual):
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a path")
    return _expand(value)


def _paths(value, textual):
    if textual and isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError("a list of directory paths")
    return [_strip_projects(_expand(v.strip())) for v in value]


def _token_limit(value, textual):
    if textual and isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, str) and value.strip().lower() == "max":
        return "max"
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise ValueError("a positive whole number of tokens, or \"max\"")


def _hours(value, textual):
    if textual and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 24 * 7:
        return value
    raise ValueError("a number of hours above 0, at most 168")


def _usd(value, textual):
    if textual and isinstance(value, str):
        try:
            value = float(value.strip().lstrip("$"))
        except ValueError:
            pass
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < MAX_COST_USD:
        return value
    raise ValueError(f"a number of US dollars above 0, below {MAX_COST_USD:,.0f}")


def _interval(value, textual):
    if textual and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0.1 <= value <= 3600:
        return value
    raise ValueError("a number of seconds from 0.1 to 3600")


def _segment_format(value, textual):
    if not isinstance(value, str):
        raise ValueError("a format string such as \"{today_cost} today[ · {used} 5h]\"")
    try:
        parse_segment_format(value)
    except ValueError as exc:
        raise ValueError(f"a format string, not {value!r}: {exc}")
    return value


def _thresholds(value, textual):
    if textual and isinstance(value, str):
        value = value.split(",")
    try:
        numbers = [float(v) if textual else v for v in value]
    except (TypeError, ValueError):
        numbers = []
    if len(numbers) == 2 and all(type(n) in (int, float) for n in numbers) and 0 <= numbers[0] <= numbers[1]:
        return numbers
    raise ValueError("two percentages, yellow from and red from, such as 50,80")


class Setting:
    """One setting: its file key, flag, environment variables and default."""

    __slots__ = ("name", "convert", "default", "env", "dest", "flag", "help")

    def __init__(self, name, convert, default, env, dest, flag, help):
        self.name, self.convert, self.default = name, convert, default
        self.env, self.dest, self.flag, self.help = env, dest, flag, help


DEFAULT_PROMPT_FORMAT = "{today_cost} today[ · {used} 5h][ · {reset_in}]"
SETTINGS = (
    Setting("data_dirs", _paths, None, ("CCUSAGE_DATA_DIR", "CLAUDE_CONFIG_DIR"), "data_dir", "--data-dir",
            "Claude config dirs to read (default: ~/.config/claude and ~/.claude)"),
    Setting("db", _path, None, ("CCUSAGE_DB",), "db", "--db",
            "the store (default: $XDG_DATA_HOME/ccusage/usage.db)"),
    Setting("timezone", _zone, None, ("CCUSAGE_TIMEZONE", "TZ"), "timezone", "--timezone",
            "IANA time zone that decides which day a call belongs to (default: the system's)"),
    Setting("start_of_week", _choice(*WEEKDAYS), "sunday", ("CCUSAGE_START_OF_WEEK",), "start_of_week",
            "--start-of-week", "first day of a week"),
    Setting("color", _choice(*COLORS), "auto", ("CCUSAGE_COLOR", "NO_COLOR", "FORCE_COLOR"), "color", "--color",
            "colour the tables: auto, always or never"),
    Setting("mode", _choice(*MODES), "auto", ("CCUSAGE_MODE",), "mode", "--mode",
            "cost source: auto, calculate or display"),
    Setting("order", _choice(*ORDERS), "asc", ("CCUSAGE_ORDER",), "order", "--order", "row order: asc or desc"),
    Setting("prices_file", _path, None, ("CCUSAGE_PRICES",), "prices", "--prices",
            "JSON price file (default: $XDG_CONFIG_HOME/ccusage/prices.json)"),
    Setting("plan", _choice(*PLANS), "auto", ("CCUSAGE_PLAN",), "plan", "--plan",
            "Claude plan whose 5-hour limit to measure against: auto, pro, max5, max20 or custom"),
    Setting("token_limit", _token_limit, None, ("CCUSAGE_TOKEN_LIMIT",), "token_limit", "--token-limit",
            "tokens a 5-hour window allows, for plan custom (or \"max\": the largest past window)"),
    Setting("session_length", _hours, 5, ("CCUSAGE_SESSION_LENGTH",), "session_length", "--session-length",
            "hours in a usage window"),
    Setting("plan_price", _usd, None, ("CCUSAGE_PLAN_PRICE",), "plan_price", None,
            "US dollars a month your plan costs (default: Anthropic's list price of the plan)"),
    Setting("prompt_format", _segment_format, DEFAULT_PROMPT_FORMAT, ("CCUSAGE_PROMPT_FORMAT",), "segment_format",
            "--format", "the prompt segment's format (the status line's: see `ccusage statusline --help`)"),
    Setting("prompt_levels", _thresholds, [50, 80], ("CCUSAGE_PROMPT_LEVELS",), "thresholds",
            "--thresholds", "used percentages at which the prompt and status line turn yellow and red"),
)
SETTING_BY_NAME = {s.name: s for s in SETTINGS}


def _env_value(name, raw):
    """What an environment variable says of its setting, or None when it says nothing."""
    if not raw:
        return None
    if name == "NO_COLOR":
        return "never"
    if name == "FORCE_COLOR":
        return "always" if raw != "0" else None
    if name == "TZ":
        # TZ is the whole system's: a POSIX rule there is not an error of ours.
        raw = raw.lstrip(":")
        try:
            load_timezone(raw)
        except CcusageError:
            return None
    return raw


def config_dir(environ):
    base = environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(_expand(base), "ccusage")


def _has_tomllib():
    return sys.version_info >= (3, 11)


def default_prices_path(settings):
    """The price file read when none is named: prices.json beside the settings file."""
    return os.path.join(os.path.dirname(settings.path), "prices.json")


def config_path(environ, explicit=None):
    """(path of the config file, named by the user?)."""
    if explicit:
        return _expand(explicit), True
    if environ.get("CCUSAGE_CONFIG"):
        return _expand(environ["CCUSAGE_CONFIG"]), True
    directory = config_dir(environ)
    toml_path, json_path = os.path.join(directory, "config.toml"), os.path.join(directory, "config.json")
    if _has_tomllib() and (os.path.exists(toml_path) or not os.path.exists(json_path)):
        return toml_path, False
    return json_path, False


def read_config(path, named, warn):
    """The config file as a dict: {} when it is absent and was not named."""
    is_json = path.endswith(".json")
    try:
        raw = read_settings_file(path, "config file")
    except FileNotFoundError:
        if named:
            raise CcusageError(f"config file {path} does not exist", EXIT_USAGE)
        toml_path = os.path.splitext(path)[0] + ".toml"
        if is_json and os.path.exists(toml_path):
            warn(f"{toml_path} is ignored: reading TOML needs Python 3.11 or newer; "
                 f"put the same settings as JSON in {path}")
        return {}
    except (OSError, ValueError) as exc:
        raise CcusageError(f"config file {path}: {_reason(exc)}", EXIT_USAGE)
    if is_json:
        import json
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise CcusageError(f"config file {path}: invalid JSON: {exc}", EXIT_USAGE)
        except RecursionError:
            raise CcusageError(f"config file {path}: nested too deeply to read", EXIT_USAGE)
    else:
        if not _has_tomllib():
            raise CcusageError(f"config file {path}: reading TOML needs Python 3.11 or newer; "
                               "write the same settings as JSON in a file ending in .json", EXIT_USAGE)
        import tomllib  # novermin: read only where _has_tomllib() says it exists
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise CcusageError(f"config file {path}: invalid TOML: {exc}", EXIT_USAGE)
        except RecursionError:
            raise CcusageError(f"config file {path}: nested too deeply to read", EXIT_USAGE)
    if not isinstance(data, dict):
        raise CcusageError(f"config file {path}: expected a table of settings", EXIT_USAGE)
    return data


class Settings:
    """Every setting's effective value and where it came from."""

    def __init__(self, path):
        self.path = path
        self.values = {}
        self.sources = {}
        self.prices = {}
        self.budgets = BudgetSettings()
        self.log_sources = []

    def __getattr__(self, name):
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name)


def _check_file(data, path):
    """Reject what the file holds that is not a valid setting, command section or price.

    Every section is checked, not only the running command's: a mistake is
    reported the first time the file is read.
    """
    for key, value in data.items():
        if key == "prices":
            price_entries(value, f"config file {path}: prices")
        elif key == "budgets":
            budget_entries(value, path)
        elif key == "sources":
            source_entries(value, path)
        elif key in COMMANDS and isinstance(value, dict):
            for inner, inner_value in value.items():
                if inner not in SETTING_BY_NAME:
                    raise CcusageError(f"config file {path}: unknown key {inner!r} in [{key}] "
                                       f"(settings: {', '.join(SETTING_BY_NAME)})", EXIT_USAGE)
                _check_value(SETTING_BY_NAME[inner], inner_value, f"config file {path}: [{key}] {inner}")
        elif key in SETTING_BY_NAME:
            _check_value(SETTING_BY_NAME[key], value, f"config file {path}: {key}")
        else:
            raise CcusageError(f"config file {path}: unknown key {key!r} (settings: {', '.join(SETTING_BY_NAME)}, "
                               f"prices, budgets, sources, and a table per command)", EXIT_USAGE)


def _check_value(setting, value, where, textual=False):
    """value converted for setting, or a usage error naming where it came from."""
    try:
        return setting.convert(value, textual)
    except ValueError as exc:
        raise CcusageError(f"{where}: expected {exc}", EXIT_USAGE)


def _setting_sources(setting, args, environ, data, section, path, command):
    """(value, is text, source, where to blame) of each place that sets setting, first to last in precedence."""
    if setting.dest and hasattr(args, setting.dest):
        yield getattr(args, setting.dest), True, f"flag {setting.flag}", f"argument {setting.flag}"
    for var in setting.env:
        value = _env_value(var, environ.get(var, ""))
        if value is not None:
            yield value, True, f"environment {var}", f"environment variable {var}"
            break
    if setting.name in section:
        yield (section[setting.name], False, f"{path} [{command}]",
               f"config file {path}: [{command}] {setting.name}")
    if setting.name in data:
        yield data[setting.name], False, path, f"config file {path}: {setting.name}"


def resolve_settings(args, environ, command, warn, creating=False):
    """Each setting from the first of: flag, environment, the file's [command] section, the file, default.

    creating: the file is about to be written, so it need not exist yet.
    """
    path, named = config_path(environ, getattr(args, "config", None))
    data = read_config(path, named and not creating, warn)
    _check_file(data, path)
    section = data.get(command) if isinstance(data.get(command), dict) else {}
    settings = Settings(path)
    for setting in SETTINGS:
        found = next(_setting_sources(setting, args, environ, data, section, path, command), None)
        if found:
            value, textual, source, where = found
            value = _check_value(setting, value, where, textual)
        else:
            value, source = setting.default, "default"
        settings.values[setting.name] = value
        settings.sources[setting.name] = source
    if "prices" in data:
        settings.prices = price_entries(data["prices"], f"config file {path}: prices")
    if "budgets" in data:
        settings.budgets = budget_entries(data["budgets"], path)
    if "sources" in data:
        settings.log_sources = source_entries(data["sources"], path)
    return settings


# What each budget measures, in which unit ("usd", "tokens" or "percent").
BUDGET_KINDS = {
    "daily": "usd",              # the cost of today
    "weekly": "usd",             # of this week (start_of_week)
    "monthly": "usd",            # of this month
    "session": "usd",            # of the dearest session still going
    "window_tokens": "tokens",   # the tokens of the current 5-hour window
    "window_cost": "usd",        # its cost
    "window_percent": "percent",  # the percent of its limit used: official, else estimated
    "seven_day_percent": "percent",  # the official percent of the 7-day limit used
}
# Plan limits are the account's, not a project's: a project budgets its own cost.
PROJECT_BUDGET_KINDS = ("daily", "weekly", "monthly", "session")
BUDGET_OPTIONS = ("threshold", "cooldown", "notify_timeout", "projects")
DEFAULT_THRESHOLD = 80
DEFAULT_COOLDOWN_MINUTES = 60
DEFAULT_NOTIFY_TIMEOUT = 10


class Budget:
    """A limit on one measure of use, and the percent of it at which it warns."""

    __slots__ = ("kind", "limit", "threshold", "project")

    def __init__(self, kind, limit, threshold, project=None):
        self.kind, self.limit, self.threshold, self.project = kind, limit, threshold, project

    @property
    def name(self):
        """daily, or daily@api-server for a project's."""
        return self.kind if self.project is None else f"{self.kind}@{self.project}"

    @property
    def unit(self):
        return BUDGET_KINDS[self.kind]


class BudgetSettings:
    """The [budgets] table: every budget, and how often and how long alerts may run."""

    def __init__(self, budgets=(), cooldown_minutes=DEFAULT_COOLDOWN_MINUTES, notify_timeout=DEFAULT_NOTIFY_TIMEOUT):
        self.budgets = list(budgets)
        self.cooldown_minutes = cooldown_minutes
        self.notify_timeout = notify_timeout


def _budget_number(value, where, low, high, what, low_included=False):
    if type(value) in (int, float) and (low <= value if low_included else low < value) and value <= high:
        return value
    raise CcusageError(f"{where}: expected {what}", EXIT_USAGE)


def _threshold(value, where):
    return _budget_number(value, where, 0, 100, "a percent of the limit above 0, at most 100")


def _budget(kind, value, threshold, where, project=None):
    """A Budget from `kind = LIMIT` or `kind = {limit = LIMIT, threshold = PERCENT}`."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"limit", "threshold"})
        if unknown:
            raise CcusageError(f"{where}: unknown key {unknown[0]!r} (expected limit, threshold)", EXIT_USAGE)
        if "limit" not in value:
            raise CcusageError(f"{where}: limit is required", EXIT_USAGE)
        threshold = _threshold(value.get("threshold", threshold), f"{where}.threshold")
        value, where = value["limit"], f"{where}.limit"
    unit = BUDGET_KINDS[kind]
    if unit == "usd":
        limit = _budget_number(value, where, 0, MAX_COST_USD, f"US dollars above 0, below {MAX_COST_USD:,.0f}")
    elif unit == "tokens":
        limit = _budget_number(value, where, 0, 1e15, "a positive whole number of tokens")
        if not isinstance(limit, int):
            raise CcusageError(f"{where}: expected a positive whole number of tokens", EXIT_USAGE)
    else:
        limit = _budget_number(value, where, 0, 100, "a percent above 0, at most 100")
    return Budget(kind, limit, threshold, project)


class LogSource:
    """A place logs are read from, under a name: Claude Code config dirs, or a file, directory or glob pattern
    of a proxy's or a program's logs (paths: its roots)."""

    __slots__ = ("name", "kind", "paths", "where")

    def __init__(self, name, kind, paths, where):
        self.name, self.kind, self.paths, self.where = name, kind, paths, where


# A source's name: letters, digits and "._-", as a label and a flag's value can hold it.
_SOURCE_NAME = LazyPattern(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def source_entries(data, path):
    """The [[sources]] of the config file at path as LogSources, or a usage error naming the entry."""
    where = f"config file {path}: sources"
    if not isinstance(data, list):
        raise CcusageError(f"{where}: expected a list of tables ([[sources]]), each with a name, a kind and a path",
                           EXIT_USAGE)
    sources, names = [], {DEFAULT_SOURCE_NAME}
    for number, entry in enumerate(data, 1):
        at = f"{where} entry {number}"
        if not isinstance(entry, dict):
            raise CcusageError(f"{at}: expected a table with a name, a kind and a path", EXIT_USAGE)
        unknown = sorted(set(entry) - {"name", "kind", "path"})
        if unknown:
            raise CcusageError(f"{at}: unknown key {unknown[0]!r} (a source has a name, a kind and a path)",
                               EXIT_USAGE)
        name, kind, location = entry.get("name"), entry.get("kind", DEFAULT_SOURCE_NAME), entry.get("path")
        if not isinstance(name, str) or not _SOURCE_NAME.match(name):
            raise CcusageError(f"{at} name: expected letters, digits, '.', '_' or '-', starting with a letter or "
                               "digit", EXIT_USAGE)
        if name in names:
            raise CcusageError(f"{at} name: {name!r} names another source already (claude-code is the default "
                               "one's); give each source a name of its own", EXIT_USAGE)
        if kind not in LOG_KINDS:
            raise CcusageError(f"{at} kind: expected one of {', '.join(LOG_KINDS)}", EXIT_USAGE)
        if location is None:
            raise CcusageError(f"{at}: no path; give the file, directory or glob pattern of its logs", EXIT_USAGE)
        if not isinstance(location, str) or not location.strip() or "\0" in location:
            raise CcusageError(f"{at} path: expected a file, a directory or a glob pattern", EXIT_USAGE)
        if not os.path.isabs(os.path.expanduser(location)):
            # Every run reads the settings, in whatever directory it is: a prompt's in each would name another log.
            raise CcusageError(f"{at} path: expected an absolute path or one from ~, got {location!r}", EXIT_USAGE)
        names.add(name)
        kind = LOG_KINDS.index(kind)
        path = _strip_projects(_expand(location)) if kind == KIND_CLAUDE_CODE else _expand(location)
        sources.append(LogSource(name, kind, [path], f"{at} ({name})"))
    return sources


def budget_entries(data, path):
    """The [budgets] table of the config file at path as BudgetSettings, or a usage error naming the key."""
    import json
    where = f"config file {path}: [budgets]"
    if not isinstance(data, dict):
        raise CcusageError(f"{where}: expected a table of budgets", EXIT_USAGE)
    unknown = sorted(set(data) - set(BUDGET_KINDS) - set(BUDGET_OPTIONS))
    if unknown:
        raise CcusageError(f"{where}: unknown key {unknown[0]!r} (budgets: {', '.join(BUDGET_KINDS)}; "
                           f"options: {', '.join(BUDGET_OPTIONS)})", EXIT_USAGE)
    threshold = _threshold(data.get("threshold", DEFAULT_THRESHOLD), f"{where} threshold")
    cooldown = _budget_number(data.get("cooldown", DEFAULT_COOLDOWN_MINUTES), f"{where} cooldown", 0, 7 * 24 * 60,
                              "minutes from 0 to 10080", low_included=True)
    timeout = _budget_number(data.get("notify_timeout", DEFAULT_NOTIFY_TIMEOUT), f"{where} notify_timeout", 0, 600,
                             "seconds above 0, at most 600")
    budgets = [_budget(kind, data[kind], threshold, f"{where} {kind}") for kind in BUDGET_KINDS if kind in data]
    projects = data.get("projects", {})
    if not isinstance(projects, dict):
        raise CcusageError(f"{where} projects: expected a table of projects, each a table of budgets", EXIT_USAGE)
    for project, table in projects.items():
        at = f"config file {path}: [budgets.projects.{json.dumps(project, ensure_ascii=False)}]"
        if not isinstance(table, dict) or not project.strip():
            raise CcusageError(f"{at}: expected a table of budgets ({', '.join(PROJECT_BUDGET_KINDS)})", EXIT_USAGE)
        unknown = sorted(set(table) - set(PROJECT_BUDGET_KINDS) - {"threshold"})
        if unknown:
            raise CcusageError(f"{at}: unknown key {unknown[0]!r} (a project's budgets: "
                               f"{', '.join(PROJECT_BUDGET_KINDS)}; and threshold)", EXIT_USAGE)
        own = _threshold(table.get("threshold", threshold), f"{at} threshold")
        budgets += [_budget(kind, table[kind], own, f"{at} {kind}", project)
                    for kind in PROJECT_BUDGET_KINDS if kind in table]
    return BudgetSettings(budgets, cooldown, timeout)


STARTER_CONFIG = """\
# ccusage settings.  Every one is optional; the values shown are the defaults.
# A command-line flag wins over an environment variable (CCUSAGE_TIMEZONE
# and the like: see `man ccusage`), which wins over this file.  A [command] table overrides the settings above
# it for that command alone, e.g. [weekly] order = "desc".

# Claude config dirs to read (each holds a projects/ directory).
# data_dirs = ["~/.config/claude", "~/.claude"]

# The store of every call read.
# db = "~/.local/share/ccusage/usage.db"

# The IANA time zone that decides which day a call belongs to (default: the system's).
# timezone = "Europe/Berlin"

# start_of_week = "sunday"     # monday ... sunday
# color = "auto"               # auto, always, never
# mode = "auto"                # auto, calculate, display
# order = "asc"                # asc, desc

# A JSON price file, read as well as the [prices] tables below.
# prices_file = "~/.config/ccusage/prices.json"

# Your Claude plan and the tokens a 5-hour window allows.  Anthropic
# publishes no token numbers: built-in plan limits are estimates.
# plan = "auto"                # auto, pro, max5, max20, custom
# token_limit = 50000000       # for plan = "custom"; or "max"
# session_length = 5           # hours in a window
# What the plan costs, US dollars a month, for the "API value" of `ccusage
# report` (default: Anthropic's list price: pro 20, max5 100, max20 200).
# plan_price = 200

# The prompt segment (`ccusage prompt`; fields: `ccusage prompt --help`).  The
# status line's comes from prompt_format in a table named statusline.
# prompt_format = "{today_cost} today[ · {used} 5h][ · {reset_in}]"
# prompt_levels = [50, 80]  # used percent: yellow from, red from

# A price for a model the built-in table lacks, in USD per million tokens
# (web_search in USD per search).  Only input and output are required.
# [prices."claude-example-1"]
# input = 3
# output = 15
# cache_write_5m = 3.75
# cache_write_1h = 6
# cache_read = 0.3
# web_search = 0.01

# Budgets, for `ccusage check` and `ccusage report` (see `man ccusage`).
# [budgets]
# daily = 30                   # US dollars of today
# weekly = 150                 # of this week
# monthly = {limit = 500, threshold = 90}
# session = 20                 # of the dearest session still going
# window_tokens = 150000000    # of the current 5-hour window
# window_cost = 40
# window_percent = 90          # percent of its limit: official, else estimated
# seven_day_percent = 80       # the official percent of the 7-day limit
# threshold = 80               # percent of a limit at which a budget warns
# cooldown = 60                # minutes before a budget alerts again
# notify_timeout = 10          # seconds a --notify command may run
# [budgets.projects."api-server"]
# daily = 10

# [weekly]
# start_of_week = "monday"
"""


def _starter_json():
    import json
    return json.dumps({s.name: s.default for s in SETTINGS if s.default is not None}, indent=2) + "\n"


def run_config(args, settings, environ, out, messages):
    if args.action == "init":
        text = _starter_json() if settings.path.endswith(".json") else STARTER_CONFIG
        try:
            os.makedirs(os.path.dirname(settings.path), exist_ok=True)
            with open(settings.path, "x", encoding="utf-8") as f:
                f.write(text)
        except FileExistsError:
            out.write(f"{clean(settings.path)} already exists and is left as it is; "
                      "edit it, or remove it to start afresh\n")
            return EXIT_OK
        except OSError as exc:
            raise CcusageError(f"cannot write {settings.path}: {_reason(exc)}")
        out.write(f"wrote {clean(settings.path)}\n")
        return EXIT_OK
    implied = {"data_dirs": default_roots(environ), "db": default_db_path(environ),
               "timezone": system_timezone_name(),
               "prices_file": default_prices_path(settings)}
    shown = {}
    for setting in SETTINGS:
        value = settings.values[setting.name]
        if value is None:
            value = implied.get(setting.name)
        shown[setting.name] = {"value": value, "source": settings.sources[setting.name]}
    if args.json:
        data = {"file": settings.path, "settings": shown,
                "prices": {model: dict(zip(RATE_FIELDS, price.bands[-1][2]), web_search=price.web_search)
                           for model, price in sorted(settings.prices.items())},
                "budgets": [{"name": b.name, "kind": b.kind, "project": b.project, "unit": b.unit,
                             "limit": b.limit, "threshold": b.threshold} for b in settings.budgets.budgets],
                "alerts": {"cooldownMinutes": settings.budgets.cooldown_minutes,
                           "notifyTimeoutSeconds": settings.budgets.notify_timeout},
                "sources": [{"name": source.name, "kind": LOG_KINDS[source.kind], "path": source.paths[0]}
                            for source in settings.log_sources]}
        out.write(to_json(data, out) + "\n")
        return EXIT_OK
    width = max(len(name) for name in shown)
    out.write(f"config file: {clean(settings.path)}"
              + ("" if os.path.exists(settings.path) else " (absent)") + "\n")
    for name, item in shown.items():
        value = item["value"]
        text = "(none)" if value is None else ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        out.write(f"{name.ljust(width)}  {clean(text)}  [{clean(item['source'])}]\n")
    for model in sorted(settings.prices):
        out.write(f"{'price'.ljust(width)}  {clean(model)}  [{clean(settings.path)}]\n")
    for budget in settings.budgets.budgets:
        out.write(f"{'budget'.ljust(width)}  {clean(budget.name)}: {fmt_budget(budget.unit, budget.limit)}, "
                  f"warning at {budget.threshold:g}%  [{clean(settings.path)}]\n")
    for source in settings.log_sources:
        out.write(f"{'source'.ljust(width)}  {clean(source.name)}: {LOG_KINDS[source.kind]} logs at "
                  f"{clean(source.paths[0])}  [{clean(settings.path)}]\n")
    return EXIT_OK


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------

EPILOGS = {
    None: """\
examples:
  ccusage                           daily report of ~/.claude
  ccusage today --json | jq .totals.totalCost
  ccusage monthly --breakdown
  ccusage session --since 2026-11-01 -z UTC
  ccusage daily --data-dir ~/work/claude --csv > usage.csv
  ccusage live --plan max5 --interval 2
  ccusage config show
""",
    "daily": """\
examples:
  ccusage daily --since 2026-11-01 --until 2026-11-30
  ccusage daily --breakdown --by-project
  ccusage daily --csv > usage.csv
""",
    "weekly": """\
examples:
  ccusage weekly --start-of-week monday
  ccusage weekly --json | jq '.weekly[-1].totalCost'
""",
    "monthly": """\
examples:
  ccusage monthly --breakdown
  ccusage monthly --order desc --since 20260101
""",
    "session": """\
examples:
  ccusage session --since 2026-11-01 -z UTC
  ccusage session -p myproject --breakdown
  ccusage session --json | jq '.sessions[0].totalCost'
""",
    "today": """\
examples:
  ccusage today
  ccusage today --json | jq .totals.totalCost
""",
    "models": """\
examples:
  ccusage models --log proxy:~/logs/api_calls.json
  ccusage models --since 2026-11-01 --source proxy
  ccusage models --json | jq '.tiers[] | {tier, successRate, latencyMs}'
""",
    "blocks": """\
examples:
  ccusage blocks --recent
  ccusage blocks --active --plan max5
  ccusage blocks --token-limit max --json
""",
    "status": """\
examples:
  ccusage status
  ccusage status --plan max20 -z Europe/Berlin
  ccusage status --json | jq .percentUsed
  ccusage status >/dev/null || echo 'limit reached'   # exit status 3
""",
    "live": """\
examples:
  ccusage live
  ccusage live --plan max5 --interval 2
  ccusage live --once --view history     one frame as text, at COLUMNS x LINES
""",
    "config": """\
examples:
  ccusage config init
  ccusage config show --for weekly --json
  ccusage config path
""",
}


# Narrower than this, no table can show a date and a cost.
MIN_WIDTH = 30


def _columns_variable():
    """The width $COLUMNS sets, if it is one."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        return None
    return columns if columns > 0 else None


def terminal_columns():
    """The terminal's width as shutil would tell it ($COLUMNS first), without the cost of importing shutil."""
    columns = _columns_variable()
    if columns:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def load_argparse():
    """Import argparse and make this program's parser classes, once.

    The usual command lines of the quick commands need neither (see
    quick_args), and importing argparse is a good part of such a run.
    """
    global argparse, HelpFormatter, ArgumentParser, _QuickParser
    if "argparse" in globals():
        return
    import argparse

    class HelpFormatter(argparse.HelpFormatter):
        """argparse's formatter, told the width itself (argparse builds one per option, importing
        shutil); descriptions wrapped to it, an epilog's indented examples kept line by line."""

        def __init__(self, prog, **options):
            options.setdefault("width", max(terminal_columns(), MIN_WIDTH) - 2)
            super().__init__(prog, **options)

        def _fill_text(self, text, width, indent):
            if "\n  " in text:   # indented lines: examples, a table of exit statuses
                return "".join(indent + line for line in text.splitlines(keepends=True))
            return super()._fill_text(text, width, indent)


    class ArgumentParser(argparse.ArgumentParser):
        """Usage errors as one line on stderr and exit status 2, naming a mistyped option or command
        and what was probably meant."""

        _words = ()

        def parse_known_args(self, args=None, namespace=None):
            self._words = list(sys.argv[1:] if args is None else args)
            return super().parse_known_args(args, namespace)

        def error(self, message):
            self.exit(EXIT_USAGE, f"{PROG}: error: {clean(self._explain(message))} (see '{self.prog} --help')\n")

        def _explain(self, message):
            refused = re.match(r"argument (-\S+): the \w+ command does not take it", message)
            if refused and not self._knows(refused.group(1)) and not self._takers(refused.group(1)):
                return self._unknown_option(refused.group(1))
            if message.startswith("argument [command]: invalid choice:"):
                import ast
                quoted = re.match(r"argument \[command\]: invalid choice: (.*?) \(choose from", message).group(1)
                word = ast.literal_eval(quoted)
                # After an unknown option, its value was read as the command.
                at = self._words.index(word) if word in self._words else 0
                if at and self._words[at - 1].startswith("-") and not self._knows(self._words[at - 1]):
                    return self._unknown_option(self._words[at - 1])
                commands = self._commands()
                return (f"unknown command {word!r}" + _did_you_mean(word, commands)
                        + " (choose from " + ", ".join(repr(c) for c in commands) + ")")
            if message.startswith("unrecognized arguments: "):
                options = [w for w in message[len("unrecognized arguments: "):].split(" ") if w.startswith("-")]
                if options:
                    return self._unknown_option(options[0])
            return message

        def _knows(self, word):
            option = word.split("=", 1)[0]
            return option in ("-", "--") or option in self._option_string_actions or bool(
                option.startswith("--") and [o for o in self._option_string_actions if o.startswith(option)]) or (
                option[:2] in self._option_string_actions and not option.startswith("--"))

        def _commands(self):
            return next((a.choices for a in self._actions if isinstance(a, argparse._SubParsersAction)), {})

        def _takers(self, option):
            """The commands that take option."""
            return [name for name, sub in self._commands().items() if option in sub._option_string_actions
                    and sub._option_string_actions[option].help != argparse.SUPPRESS]

        def _unknown_option(self, word):
            option = word.split("=", 1)[0]
            takers = self._takers(option)
            command = next((w for w in self._words if w in self._commands()), None)
            if takers and command:
                return f"argument {option}: the {command} command does not take it ({', '.join(takers)} do)"
            known = set(self._option_string_actions).union(*(sub._option_string_actions
                                                             for sub in self._commands().values()))
            return f"unknown option {option!r}" + _did_you_mean(option, known)


    class _QuickParser(ArgumentParser):
        def error(self, message):
            raise _Unparsed(message)


def _did_you_mean(word, choices):
    import difflib
    close = difflib.get_close_matches(word or "", list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class _Unparsed(Exception):
    """A quick parser's objection: the whole parser will tell the user."""


_DAY = LazyPattern(r"([0-9]{4})-?([0-9]{2})-?([0-9]{2})")


def _day_or_none(text):
    """The date of YYYY-MM-DD or YYYYMMDD text, or None."""
    match = _DAY.fullmatch(text)
    if match and (len(text) == 8 or text.count("-") == 2):
        try:
            return date(*map(int, match.groups()))
        except ValueError:
            pass
    return None


def parse_day(text):
    day = _day_or_none(text)
    if day is None:
        raise argparse.ArgumentTypeError(f"invalid date {text!r}: use YYYY-MM-DD or YYYYMMDD")
    return day


def _add_config_option(parser):
    parser.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE",
                        help="settings file (default: $XDG_CONFIG_HOME/ccusage/config.toml)")


def _flag_type(convert, what):
    """An argparse type that checks a flag's value as its setting is checked."""
    def parse(text):
        try:
            return convert(text, True)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: expected {exc}")
    return parse


def _add_command_options(parser, command):
    """The options of a command (None: those of the default daily report).

    Nothing has a parser default: an option absent from the command line is
    absent from the namespace, so settings can tell a flag from a default.
    """
    s = argparse.SUPPRESS
    report = command in REPORTS or command is None
    ranged = report or command in ("export", "blocks", "models")
    group = parser.add_argument_group("what to count")
    if ranged:
        # today takes them only to refuse them with a reason (check_args): they are not offered.
        window_day = " (of a window's start)" if command == "blocks" else ""
        group.add_argument("-s", "--since", type=parse_day, default=s, metavar="DATE",
                           help=s if command == "today" else f"first day to include{window_day}, YYYY-MM-DD "
                                                             "or YYYYMMDD")
        group.add_argument("-u", "--until", type=parse_day, default=s, metavar="DATE",
                           help=s if command == "today" else f"last day to include{window_day}, YYYY-MM-DD "
                                                             "or YYYYMMDD")
    group.add_argument("-z", "--timezone", default=s, metavar="TZ",
                       help=("IANA time zone deciding which day a call belongs to"
                             if report or command in BUDGET_COMMANDS + DATA_COMMANDS + ("models",) else
                             "IANA time zone to show times in") + " (default: the system's)")
    if ranged and command != "models":
        # Requests belong to no project: models has none to choose.
        group.add_argument("-p", "--project", default=s, metavar="NAME",
                           help=("only the project with this path, last path component or directory name "
                                 "(with or without its leading -)")
                           + (": its calls' own windows" if command == "blocks" else ""))
    if command != "prune":
        group.add_argument("-m", "--mode", choices=MODES, default=s, type=str.lower,
                           help="cost source: auto uses costUSD from old logs where present, calculate "
                                "always prices tokens, display only shows costUSD (default: auto)")
        group.add_argument("--prices", default=s, metavar="FILE",
                           help="JSON file of extra or overriding model prices "
                                "(default: prices.json beside the settings file)")
    if command in WINDOW_COMMANDS + BUDGET_COMMANDS + SEGMENT_COMMANDS + ("live",):
        group = parser.add_argument_group("usage windows")
        group.add_argument("--plan", choices=PLANS, default=s, type=str.lower,
                           help="plan whose limit to measure against; auto learns it from your history, "
                                "the others are estimates (default: auto)")
        group.add_argument("-t", "--token-limit", type=_flag_type(_token_limit, "token limit"), default=s,
                           metavar="N|max",
                           help="tokens a window allows, or max: the largest past window")
        group.add_argument("-l", "--session-length", type=_flag_type(_hours, "length"), default=s,
                           metavar="HOURS",
                           help="hours in a window (default: 5)")
    if command == "blocks":
        which = group.add_mutually_exclusive_group()
        which.add_argument("-a", "--active", action="store_true", default=s, help="only the active window")
        which.add_argument("-r", "--recent", action="store_true", default=s,
                           help=f"only the windows of the last {RECENT_DAYS} days")
    if command == "live":
        group = parser.add_argument_group("the live view")
        group.add_argument("--interval", type=_flag_type(_interval, "interval"), default=s, metavar="SECONDS",
                           help="seconds between looks for new calls (default: 1)")
        group.add_argument("--once", action="store_true", default=s,
                           help="print one frame as text, COLUMNS wide, and exit")
        group.add_argument("--view", choices=LIVE_VIEWS, default=s, type=str.lower,
                           help="view to start on (default: overview)")
    if command in DATA_COMMANDS:
        _add_data_options(parser)
        return
    group = parser.add_argument_group("how to show it")
    if command in (None, "weekly") + BUDGET_COMMANDS:
        group.add_argument("--start-of-week", choices=WEEKDAYS, default=s, type=str.lower, metavar="DAY",
                           help="first day of a week: monday ... sunday (default: sunday)")
    if report:
        group.add_argument("-b", "--breakdown", action="store_true", default=s, help="add a row per model")
    if report and command != "session":
        group.add_argument("--by-project", action="store_true", default=s, help="group the rows by project")
    if command in SEGMENT_COMMANDS:
        _add_segment_options(group, command)
    elif command not in ("status", "live", "models") + BUDGET_COMMANDS:
        group.add_argument("-o", "--order", choices=ORDERS, default=s, type=str.lower,
                           help="row order (default: asc)")
    if command not in SEGMENT_COMMANDS + ("live",):
        output = group.add_mutually_exclusive_group()
        output.add_argument("-j", "--json", action="store_true", default=s, help="print JSON")
        if report or command == "blocks":
            output.add_argument("--csv", action="store_true", default=s, help="print CSV")
        if command == "report":
            output.add_argument("--markdown", action="store_true", default=s, help="print Markdown")
    group.add_argument("--color", choices=COLORS, default=s, type=str.lower,
                       help=("colour the line: auto colours it for a --shell or a status line" if command in
                             SEGMENT_COMMANDS else "colour the output: auto colours a terminal")
                       + " unless NO_COLOR is set (default: auto)")
    _add_data_options(parser, command)


def _add_data_options(parser, command=None):
    """Where the logs, the store and the settings are, and (but for prompt, statusline and live) --verbose."""
    s = argparse.SUPPRESS
    group = parser.add_argument_group("where the data is")
    group.add_argument("-d", "--data-dir", action="append", default=s, metavar="DIR",
                       help="Claude config dir to read (repeatable; default: $CCUSAGE_DATA_DIR, "
                            "$CLAUDE_CONFIG_DIR or the settings' data_dirs, else ~/.config/claude and ~/.claude)")
    group.add_argument("--log", action="append", default=s, metavar="KIND:PATH",
                       help="read the logs at PATH (a file, a directory or a glob pattern) as KIND: "
                            "claude-code, proxy or calls; for this run, beside the settings' sources (repeatable)")
    group.add_argument("--source", action="append", default=s, metavar="NAME",
                       help="only the calls of the sources with this name or kind (repeatable; "
                            "default: every source)")
    group.add_argument("--db", default=s, metavar="PATH",
                       help="the store (default: $CCUSAGE_DB or the settings' db, "
                            "else $XDG_DATA_HOME/ccusage/usage.db)")
    _add_config_option(group)
    if command in SEGMENT_COMMANDS + ("live",):
        return
    group.add_argument("--no-wait", action="store_true", default=s,
                       help="when another ccusage is busy with the store, answer from what it holds "
                            "instead of waiting")
    group.add_argument("-v", "--verbose", action="store_true", default=s,
                       help="say what was read and skipped, on stderr")


def _add_segment_options(group, command):
    """The options of prompt and statusline: what the line holds and how a shell wants it marked up."""
    s = argparse.SUPPRESS
    group.add_argument("-f", "--format", type=_flag_type(_segment_format, "format"), default=s, metavar="FORMAT",
                       dest="segment_format",
                       help="the line: text with {field}s, a [part] left out when a field in it is empty "
                            "(default: the prompt_format setting, else "
                            + (DEFAULT_PROMPT_FORMAT if command == "prompt" else DEFAULT_STATUSLINE_FORMAT)
                            .replace("%", "%%") + ")")
    if command == "prompt":
        group.add_argument("--shell", choices=SHELLS, default=s, type=str.lower,
                           help="mark colours up for this shell's prompt, or tmux's status line (default: plain)")
    group.add_argument("--thresholds", type=_flag_type(_thresholds, "thresholds"), default=s, metavar="Y,R",
                       help="used percentages at which the colour turns yellow and red (default: 50,80)")


def _add_budget_options(parser, command):
    """The options of check (alerts) and report (which period)."""
    s = argparse.SUPPRESS
    if command == "check":
        group = parser.add_argument_group("alerts")
        group.add_argument("--notify", default=s, metavar="CMD",
                           help="run CMD (split as a shell splits words, but run without one) once each time a "
                                "budget's state changes, with CCUSAGE_BUDGET, CCUSAGE_BUDGET_STATE, "
                                "CCUSAGE_BUDGET_USED, CCUSAGE_BUDGET_LIMIT and CCUSAGE_BUDGET_PERCENT set")
        group.add_argument("--desktop", action="store_true", default=s,
                           help="show a desktop notification of each change (notify-send or osascript)")
        return
    group = parser.add_argument_group("which period")
    group.add_argument("--date", type=parse_day, default=s, metavar="DATE",
                       help="the day to report, or with --week or --month a day of it "
                            "(default: yesterday, the last week or the last month)")
    which = group.add_mutually_exclusive_group()
    which.add_argument("--week", action="store_true", default=s, help="report a week (see --start-of-week)")
    which.add_argument("--month", action="store_true", default=s, help="report a month")


CHECK_EPILOG = """\
exit status:
  0 every budget is ok, 4 one is at its warning threshold and none over,
  3 one is exceeded; 1 a failure, 2 a usage error

examples:
  ccusage check
  ccusage check --json | jq -r '.budgets[] | select(.state != "ok") | .name'
  ccusage check --notify 'notify-send "Claude budget"' --desktop
  if ccusage check >/dev/null; then echo "within budget"; fi
"""
REPORT_EPILOG = """\
examples:
  ccusage report                      yesterday
  ccusage report --week               the last whole week
  ccusage report --month --date 2026-10-01 --markdown
  ccusage report --json | jq .apiValue
"""
COMMAND_DESCRIPTIONS = {
    "check": "Evaluate every budget of the settings file now: one line each with its state\n"
             "(ok, warning, exceeded, or unknown when nothing tells), used, limit and percent.\n"
             "Made for cron, CI and `if ccusage check; then ...`.",
    "report": "A summary of a day, week or month for mail or a chat: totals, cost by model and\n"
              "project, the top sessions, the 5-hour windows that reached a limit, budgets, the\n"
              "change on the period before, and what the usage is worth at API prices against\n"
              "what the plan costs.",
    "prompt": "One line for a shell prompt or tmux's status line: today's cost, the 5-hour\n"
              "window's used percent (official when Claude Code's status line recorded it,\n"
              "else estimated) and the time to its reset.  It never waits on a busy store, and\n"
              "whatever the store holds it exits 0: with no data, no line.",
    "models": "Per model tier (opus, sonnet, haiku, other) and per agent: the requests, their\n"
              "failures, success rate and latency p50, p95 and p99 (nearest rank), as the proxy\n"
              "and calls logs that record them tell (see --log); and per tier the calls, tokens\n"
              "and cost of every source.",
    "statusline": "Claude Code's status line: reads the JSON Claude Code writes on stdin, records\n"
                  "its official rate_limits in the store, and prints the model, the session's\n"
                  "cost, today's cost, the 5-hour window and the context window.  Whatever the\n"
                  "payload or the store, it exits 0.",
}

# Options that are not settings: what the parser leaves out means this.
FLAG_DEFAULTS = {"since": None, "until": None, "project": None, "breakdown": False, "by_project": False,
                 "json": False, "csv": False, "verbose": False, "active": False, "recent": False, "no_wait": False,
                 "notify": None, "desktop": False, "date": None, "week": False, "month": False, "markdown": False,
                 "shell": "plain", "interval": 1.0, "once": False, "view": "overview", "log": [], "source": []}
SEGMENT_EPILOG = "fields:\n" + "".join(f"  {{{name}}}{' ' * (15 - len(name))}{what}\n"
                                       for name, what in SEGMENT_FIELDS.items())


def build_parser(only=None, parser_class=None):
    """The command line's parser; with only (a command), that command alone is built.

    Building every command costs several milliseconds, much of a quick
    run's time, so main builds just the one the command line names (and
    the whole parser for help, or when the quick one objects).
    """
    load_argparse()
    parser = (parser_class or ArgumentParser)(
        prog=PROG,
        description="Report what Claude Code usage costs, from the logs it writes. "
                    "With no command, shows the daily report.",
        epilog=EPILOGS[None], formatter_class=HelpFormatter)
    parser.add_argument("-V", "--version", action="version",
                        version=f"%(prog)s {__version__} (prices checked {PRICES_CHECKED})")
    _add_command_options(parser, None)
    commands = parser.add_subparsers(dest="command", metavar="[command]", title="commands")
    helps = {
        "daily": "usage per day (the default)",
        "weekly": "usage per week",
        "monthly": "usage per month",
        "session": "usage per Claude Code session",
        "today": "today's usage",
        "models": "per model tier and agent: requests, failures, latency percentiles, calls and cost",
        "blocks": "usage per 5-hour window, with burn rate and limits",
        "status": "the current 5-hour window: used, limit, pace, reset (exit 3 at the limit)",
        "check": "every budget now: ok, warning or exceeded (exit 0, 4 or 3)",
        "report": "a summary of yesterday, a week or a month, for mail",
        "prompt": "one line for a shell prompt or tmux: today's cost, the window's use and reset",
        "statusline": "Claude Code's status line: reads its JSON on stdin, records the official figures",
        "live": "a full-screen view of the window, the day and the calls as they land",
    }
    epilogs = {
        "check": CHECK_EPILOG, "report": REPORT_EPILOG,
        "prompt": SEGMENT_EPILOG + "\nexamples:\n"
                  "  ccusage prompt --shell bash     in PS1 or PROMPT_COMMAND (see man ccusage)\n"
                  "  ccusage prompt --format '{today_cost} · {used} · {limit_in}'\n",
        "statusline": SEGMENT_EPILOG + "\nexamples:\n"
                      "  ccusage statusline     the statusLine command in ~/.claude/settings.json\n",
    }
    for name in REPORTS + ("models",) + WINDOW_COMMANDS + BUDGET_COMMANDS + SEGMENT_COMMANDS + ("live",):
        if only in (None, name):
            sub = commands.add_parser(name, help=helps[name],
                                      description=COMMAND_DESCRIPTIONS.get(name, helps[name].capitalize() + "."),
                                      epilog=epilogs.get(name) or EPILOGS[name], formatter_class=HelpFormatter)
            _add_command_options(sub, name)
            if name in BUDGET_COMMANDS:
                _add_budget_options(sub, name)
    _add_data_commands(commands, only)
    if only not in (None, "config"):
        return parser
    config = commands.add_parser(
        "config", help="show or start the settings file",
        description="Show the effective settings and where each comes from, print the settings "
                    "file's path, or write a commented starter file.",
        epilog=EPILOGS["config"],
        formatter_class=HelpFormatter)
    config.add_argument("action", choices=("show", "path", "init"), nargs="?", default="show",
                        help="show the settings, print the file's path, or write a starter file "
                             "(default: %(default)s)")
    config.add_argument("--for", dest="section", choices=COMMANDS, default="daily", metavar="COMMAND",
                        help="show the settings as this command sees them (default: %(default)s)")
    config.add_argument("-j", "--json", action="store_true", help="print JSON")
    _add_config_option(config)
    return parser


EXPORT_FORMATS = ("csv", "jsonl", "json", "prometheus")
AGGREGATES = ("hour", "day")


def _port(text):
    if re.fullmatch("[0-9]{1,5}", text) and int(text) <= 65535:
        return int(text)
    raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected a number from 0 (any free port) to 65535")


def _add_data_commands(commands, only):
    """export, serve and prune: the store's calls for other tools, and pruning."""
    if only in (None, "export"):
        sub = commands.add_parser(
            "export", help="every call (or hour or day) as CSV, JSON lines, JSON or Prometheus text",
            description="Write the calls in the store, one row per call or summed per hour or day, as\n"
                        "CSV, JSON lines or JSON; or the totals and the current window as Prometheus\n"
                        "text, for a node_exporter textfile collector.",
            epilog="examples:\n  ccusage export --since 2026-11-01 > calls.csv\n"
                   "  ccusage export --format jsonl --aggregate day -p api-server\n"
                   "  ccusage export -f prometheus --output /var/lib/node-exporter/ccusage.prom\n",
            formatter_class=HelpFormatter)
        group = sub.add_argument_group("what to write")
        group.add_argument("-f", "--format", choices=EXPORT_FORMATS, default="csv", type=str.lower,
                           help="csv, jsonl (a JSON object a line), json, or prometheus: the text "
                                "exposition format (default: %(default)s)")
        group.add_argument("--aggregate", choices=AGGREGATES, type=str.lower,
                           help="a row per project, model and UTC hour, or day of --timezone, "
                                "instead of one per call")
        group.add_argument("--output", metavar="FILE",
                           help="write to FILE, replacing it whole once written (default: standard output)")
        _add_command_options(sub, "export")
    if only in (None, "serve"):
        sub = commands.add_parser(
            "serve", help="answer HTTP: Prometheus metrics, a JSON summary and history (read-only)",
            description="Serve the store's figures over HTTP, read-only, until stopped: /metrics\n"
                        "(Prometheus text), /api/summary, /api/history?days=N and /healthz.  The logs\n"
                        "are read again at most once a second, when a request asks.",
            epilog="examples:\n  ccusage serve\n  ccusage serve --port 9300\n"
                   "  curl -s localhost:9247/api/summary | jq .window\n",
            formatter_class=HelpFormatter)
        group = sub.add_argument_group("where to listen")
        group.add_argument("--host", default=SERVE_HOST, metavar="ADDRESS",
                           help="address to listen on; one other machines reach needs --allow-remote "
                                "(default: %(default)s)")
        group.add_argument("--port", type=_port, default=SERVE_PORT,
                           help="port to listen on, 0 for any free one (default: %(default)s)")
        group.add_argument("--allow-remote", action="store_true",
                           help="listen on an address other machines reach: anyone who reaches it reads "
                                "your usage, project paths included")
        _add_command_options(sub, "serve")
    if only in (None, "prune"):
        sub = commands.add_parser(
            "prune", help="delete the calls before a day from the store",
            description="Delete from the store every call made before a day (in --timezone), whichever\n"
                        "data directory it was read from, then compact the store.  Nothing is ever\n"
                        "deleted but by this command.",
            epilog="examples:\n  ccusage prune --before 2026-01-01 --dry-run\n"
                   "  ccusage prune --before 2026-01-01\n",
            formatter_class=HelpFormatter)
        group = sub.add_argument_group("what to delete")
        group.add_argument("--before", type=parse_day, required=True, metavar="DATE",
                           help="delete the calls before this day, YYYY-MM-DD or YYYYMMDD")
        group.add_argument("-n", "--dry-run", action="store_true",
                           help="show what would be deleted, per day and model, and delete nothing")
        _add_command_options(sub, "prune")


def _one_of(*choices):
    """An option value as argparse takes one with type=str.lower and these choices, or None."""
    return lambda text: text.lower() if text.lower() in choices else None


# The usual command lines of the reports and of the commands that run on
# every prompt or every few seconds are read without building argparse's
# parser, which costs a good part of such a run: option string -> (dest,
# what it takes: True for a value, "append" for a repeatable value, a
# function for a value it converts (None: argparse is left to refuse it),
# False for none).  Anything else on the line goes to argparse; a test holds
# every entry to build_parser().
QUICK_COMMANDS = REPORTS + ("status", "blocks") + SEGMENT_COMMANDS
QUICK_OPTIONS = {
    "-j": ("json", False), "--json": ("json", False), "--csv": ("csv", False), "--no-wait": ("no_wait", False),
    "-d": ("data_dir", "append"), "--data-dir": ("data_dir", "append"), "--db": ("db", True),
    "-z": ("timezone", True), "--timezone": ("timezone", True), "--config": ("config", True),
    "-a": ("active", False), "--active": ("active", False), "--shell": ("shell", _one_of(*SHELLS)),
    "-b": ("breakdown", False), "--breakdown": ("breakdown", False), "--by-project": ("by_project", False),
    "-s": ("since", _day_or_none), "--since": ("since", _day_or_none),
    "-u": ("until", _day_or_none), "--until": ("until", _day_or_none),
    "-p": ("project", True), "--project": ("project", True),
    "-o": ("order", _one_of(*ORDERS)), "--order": ("order", _one_of(*ORDERS)),
    "-m": ("mode", _one_of(*MODES)), "--mode": ("mode", _one_of(*MODES)),
}
# The quick options only some quick commands take.
_RANGED_REPORTS = ("daily", "weekly", "monthly", "session")
QUICK_OPTIONS_OF = {"active": ("blocks",), "shell": ("prompt",), "json": REPORTS + ("status", "blocks"),
                    "no_wait": REPORTS + ("status", "blocks"), "csv": REPORTS, "breakdown": REPORTS,
                    "by_project": ("daily", "weekly", "monthly", "today"), "since": _RANGED_REPORTS,
                    "until": _RANGED_REPORTS, "project": REPORTS, "order": REPORTS, "mode": REPORTS}


def quick_args(argv):
    """The namespace argparse makes of a usual command line of a quick command, or None for any other.

    No command word at all is the daily report, as argparse reads it (the
    command left None).
    """
    if argv and argv[0] in QUICK_COMMANDS:
        command, words = argv[0], iter(argv[1:])
    elif not argv or (argv[0].startswith("-") and not any(word in COMMANDS for word in argv)):
        command, words = None, iter(argv)
    else:
        return None
    values = {"command": command}
    for word in words:
        dest, takes = QUICK_OPTIONS.get(word, (None, None))
        if dest is None or (command or "daily") not in QUICK_OPTIONS_OF.get(dest, (command or "daily",)) or \
                (dest in values and takes != "append"):
            return None
        if not takes:
            values[dest] = True
            continue
        value = next(words, None)
        if value is None or value.startswith("-"):
            return None
        if callable(takes):
            value = takes(value)
            if value is None:
                return None
        if takes == "append":
            values.setdefault(dest, []).append(value)
        else:
            values[dest] = value
    if values.get("json") and values.get("csv"):
        return None
    import types
    return types.SimpleNamespace(**values)


def check_args(args):
    """Fill in the options that are not settings, then check what the parser alone cannot."""
    def error(message):
        sys.stderr.write(f"{PROG}: error: {clean(message)} (see '{PROG} {args.command} --help')\n")
        raise SystemExit(EXIT_USAGE)

    args.command = args.command or "daily"
    if args.command == "config":
        return args
    for name, value in FLAG_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, value)
    if args.since and args.until and args.since > args.until:
        error(f"argument -s/--since: {args.since} is after --until {args.until}")
    if args.command == "today" and (args.since or args.until):
        error("argument -s/--since, -u/--until: today covers today alone; use daily for a range")
    if args.notify is not None:
        import shlex
        try:
            args.notify = shlex.split(args.notify)
        except ValueError as exc:
            error(f"argument --notify: {exc}; quote the command as a shell would")
        if not args.notify:
            error("argument --notify: expected a command, got an empty string")
    for flag, dest in (("--data-dir", "data_dir"), ("--db", "db"), ("--prices", "prices"), ("--config", "config")):
        values = getattr(args, dest, [])
        for item in values if isinstance(values, list) else [values]:
            if not item.strip():
                error(f"argument {flag}: expected a path, got an empty string")
    args.log = [_log_argument(text, error) for text in args.log]
    if hasattr(args, "timezone"):
        try:
            load_timezone(args.timezone)
        except CcusageError as exc:
            error(f"argument -z/--timezone: {exc}")
    if args.command in DATA_COMMANDS:
        _check_data_args(args, error)
    return args


def _log_argument(text, error):
    """(kind, path) of a --log KIND:PATH; a path that does not exist (and is no glob pattern) is an error."""
    kind, colon, path = text.partition(":")
    if not colon or kind not in LOG_KINDS:
        error(f"argument --log: expected KIND:PATH with KIND one of {', '.join(LOG_KINDS)}, got {text!r}")
    if not path.strip():
        error("argument --log: expected a path after the kind, got nothing")
    kind = LOG_KINDS.index(kind)
    # A config dir is named as --data-dir names one: its projects/ directory names it too.
    path = _strip_projects(_expand(path)) if kind == KIND_CLAUDE_CODE else _expand(path)
    if not record_path_exists(path):
        error(f"argument --log: {path} does not exist")
    if kind == KIND_CLAUDE_CODE and not os.path.isdir(path):
        error(f"argument --log: {path} is not a directory; a claude-code log is a Claude config dir such as "
              "~/.claude")
    return kind, path


def _check_data_args(args, error):
    """The checks of export's and serve's options."""
    if args.command == "export":
        if args.format == "prometheus" and args.aggregate:
            error("argument --aggregate: the prometheus format has no rows to sum; leave --aggregate out")
        if args.output is not None and (not args.output.strip() or os.path.isdir(args.output)):
            error(f"argument --output: expected a file name, got {'a directory' if args.output.strip() else 'nothing'}")
    if args.command == "serve" and not args.allow_remote and not is_loopback(args.host):
        error(f"argument --host: other machines can reach {args.host}, and anyone who does reads your usage; "
              "add --allow-remote to listen there anyway")


class Messages:
    """The one channel for warnings and notes: lines on stderr, or kept for a screen or a server to show.

    stream=None keeps them in lines; by default each goes to the stderr of
    the moment it is said.
    """

    def __init__(self, stream=sys):
        self.stream = stream
        self.lines = []
        # How many have been said, wherever they went.
        self.said = 0

    def warn(self, text):
        self.say(f"warning: {text}")

    def note(self, text):
        self.say(text)

    def say(self, text):
        self.said += 1
        line = f"{PROG}: {clean(text)}"
        if self.stream is None:
            self.lines.append(line)
        else:
            (sys.stderr if self.stream is sys else self.stream).write(line + "\n")


def _price_book(settings):
    overrides = dict(settings.prices)
    named = settings.sources["prices_file"] != "default"
    path = settings.prices_file or default_prices_path(settings)
    overrides.update(load_price_file(path, required=named))
    return PriceBook(overrides)


class Sources:
    """The sources a command reads and reports: the Claude Code config dirs, the settings' [[sources]] and
    --log's, as --source picks them.

    roots: the paths of the chosen ones; existing: those there are to
    read; kinds: {root: kind} of the roots that are not config dirs.
    """

    def __init__(self, chosen):
        self.chosen = chosen
        self.roots = list(dict.fromkeys(path for source in chosen for path in source.paths))
        self.kinds = {path: source.kind for source in chosen if source.kind != KIND_CLAUDE_CODE
                      for path in source.paths}
        self.existing = [root for root in self.roots
                         if (record_path_exists(root) if root in self.kinds else os.path.isdir(root))]

    def names_of(self, root_ids):
        """{root id: source name} of root_ids ({root path: id}), for telling which source saw a call."""
        return {root_ids[path]: source.name for source in reversed(self.chosen) for path in source.paths
                if path in root_ids}


def log_sources(settings, environ, messages, args=None, quiet=False):
    """The Sources of a command, checking the paths the user named (quiet: no warning when there are no logs)."""
    named = settings.data_dirs is not None
    dirs = settings.data_dirs if named else default_roots(environ)
    if named:
        for root in dirs:
            if not os.path.isdir(root):
                raise CcusageError(f"data directory {root} does not exist ({settings.sources['data_dirs']})",
                                   EXIT_USAGE)
    every = [LogSource(DEFAULT_SOURCE_NAME, KIND_CLAUDE_CODE, dirs, "data_dirs")]
    for source in settings.log_sources:
        path = source.paths[0]
        if not record_path_exists(path):
            raise CcusageError(f"{source.where}: {path} does not exist", EXIT_USAGE)
        if source.kind == KIND_CLAUDE_CODE and not os.path.isdir(path):
            raise CcusageError(f"{source.where}: {path} is not a directory; a claude-code source is a Claude "
                               "config dir such as ~/.claude", EXIT_USAGE)
        every.append(source)
    names = {source.name for source in every}
    for kind, path in getattr(args, "log", None) or ():
        if any(source.kind == kind and path in source.paths for source in every):
            continue
        name, number = LOG_KINDS[kind], 1
        while name in names:
            number += 1
            name = f"{LOG_KINDS[kind]}-{number}"
        names.add(name)
        every.append(LogSource(name, kind, [path], f"--log {LOG_KINDS[kind]}:{path}"))
    wanted = getattr(args, "source", None) or ()
    chosen = [source for source in every if not wanted or source.name in wanted or LOG_KINDS[source.kind] in wanted]
    unknown = [name for name in wanted if name not in names and name not in LOG_KINDS]
    if unknown:
        raise CcusageError(f"argument --source: no source is called {unknown[0]!r}; the sources are "
                           + ", ".join(f"{source.name} ({LOG_KINDS[source.kind]})" for source in every), EXIT_USAGE)
    sources = Sources(chosen)
    if not sources.existing and not wanted and not quiet:
        messages.warn("no Claude Code logs found in " + " or ".join(_home(r) for r in dirs)
                      + "; showing what the store already holds")
    return sources


def store_path(settings, environ):
    """Where the store is: its default place is made when missing, a named one's directory must exist."""
    if settings.db is None:
        return default_db_path(environ)
    directory = os.path.dirname(settings.db)
    if not os.path.exists(directory):
        raise CcusageError(f"the store's directory {directory} does not exist ({settings.sources['db']}); "
                           "create it, or name a store in an existing directory", EXIT_USAGE)
    return settings.db


class Session:
    """A command's store, brought up to date with the logs, and a query over the calls of the roots in use.

    Opening and syncing are tried again once when the store turns out to be
    damaged (it is set aside and built anew from the logs); nothing else of
    the command is ever run twice.
    """

    def __init__(self, args, settings, environ, messages, **sync_options):
        self.messages = messages
        self.path = store_path(settings, environ)
        prices = _price_book(settings)
        tz = load_timezone(settings.timezone)
        self.sources = sources = log_sources(settings, environ, messages, args)
        self.report = ScanReport()
        sync_options.setdefault("wait", not getattr(args, "no_wait", False))
        for attempt in (1, 2):
            self.store = Store(self.path, messages)
            try:
                self.store.sync(sources.existing, self.report, kinds=sources.kinds, **sync_options)
                if self.report.busy:
                    messages.note("the store is busy (another ccusage is writing to it): "
                                  "showing what it already holds")
                if self.report.readonly:
                    messages.note(f"the store {self.path} is read-only: new logs were not recorded "
                                  f"(make it writable: chmod u+w {self.path})")
                self.root_paths = self.store.root_ids(sources.roots, sources.kinds)
                root_ids = list(self.root_paths.values())
                break
            except STORE_DAMAGE as exc:
                self.store.close()
                if attempt == 2 or not _is_corruption(exc):
                    raise CcusageError(f"the store {self.path}: {exc}")
                # Damage deeper in the file than opening it reads: set it aside, read the logs again.
                move_store_aside(self.path, exc, messages)
                self.report = ScanReport()
            except BaseException:
                self.store.close()
                raise
        if getattr(args, "verbose", False):
            _verbose(self.store, self.report, root_ids, messages, sources.names_of(self.root_paths))
        elif self.report.unreadable:
            _note_unreadable(self.report, messages)
        self.query = UsageQuery(self.store, root_ids, prices, tz, settings.mode, sources.names_of(self.root_paths))

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, trace):
        self.store.close()
        if isinstance(exc, STORE_DAMAGE) and _is_corruption(exc):
            move_store_aside(self.path, exc, self.messages)
            raise CcusageError(f"the store {self.path} turned out damaged ({exc}) and was set aside; "
                               "run the command again to build it anew from the logs")
        if isinstance(exc, STORE_DAMAGE):
            raise CcusageError(f"the store {self.path}: {exc}")
        return False


def calls_elsewhere(query):
    """[(root path, its kind, calls)] of the store's calls read from none of the query's roots."""
    found = []
    for root_id, path, kind in query.conn.execute("SELECT id, path, kind FROM roots ORDER BY id").fetchall():
        if root_id not in query.root_ids:
            (calls,) = query.conn.execute("SELECT count(*) FROM calls WHERE roots & ? != 0 AND roots & ? = 0",
                                          (1 << (root_id - 1), query.roots_mask)).fetchone()
            if calls:
                found.append((os.fsdecode(path), kind, calls))
    return found


def _include_flag(path, kind):
    """The option that reads a root of this kind again: --data-dir for a config dir, else --log."""
    import shlex
    return f"--data-dir {shlex.quote(path)}" if kind == KIND_CLAUDE_CODE else \
        f"--log {shlex.quote(f'{LOG_KINDS[kind]}:{path}')}"


def explain_no_usage(query):
    """Why an empty answer is empty when the data directories in use have no calls at all: those
    that hold no projects/, and the calls the store holds from other directories, with how to
    include them.  (When they have calls, the filters or the time explain it.)"""
    if query.conn.execute("SELECT 1 FROM calls WHERE roots & ? != 0 LIMIT 1", (query.roots_mask,)).fetchone():
        return []
    reasons = []
    # A proxy's or a program's log directory holds no projects/: only a config dir is expected to.
    roots = [os.fsdecode(path) for root_id, path in query.conn.execute(
             "SELECT id, path FROM roots WHERE kind = ?", (KIND_CLAUDE_CODE,)) if root_id in query.root_ids]
    for root in roots:
        if os.path.isdir(root) and not os.path.isdir(os.path.join(root, "projects")):
            reasons.append(f"{_home(root)} has no projects/ directory, where Claude Code keeps its transcripts; "
                           "--data-dir names a Claude config directory such as ~/.claude")
    elsewhere = calls_elsewhere(query)
    if elsewhere:
        places = "data directories" if all(kind == KIND_CLAUDE_CODE for _, kind, _ in elsewhere) else "sources"
        reasons.append(f"the store holds {sum(n for _, _, n in elsewhere):,} calls read from other {places} ("
                       + ", ".join(f"{_home(path)}: {n:,}" for path, _, n in elsewhere[:3])
                       + (", ..." if len(elsewhere) > 3 else "") + "); include them with "
                       + " ".join(_include_flag(path, kind) for path, kind, _ in elsewhere[:3]))
    return reasons


def _warn_unpriced(query, messages, counts=None):
    """counts: {model name: calls without a price} of what was shown (default: all the query priced)."""
    for model, calls in sorted((query.unpriced_models if counts is None else counts).items()):
        messages.warn(f"no price for model {model!r} ({fmt_count(calls, 'call')}): its cost is left out of the totals; "
                      "add it to the price file (see --prices)")


def _warn_unknown_project(query, project, messages):
    if project is not None and not query.project_ids(project):
        known = query.project_names()
        messages.warn(f"no project is called {project!r}; known: " + (", ".join(known[:12]) or "none")
                      + (", ..." if len(known) > 12 else ""))


def run_report(args, settings, environ, out, messages):
    """daily, weekly, monthly, session and today."""
    # Today's calls are in the logs written today: these need no walk of every old log.
    with Session(args, settings, environ, messages, quick=args.command == "today") as session:
        query = session.query
        tz = query.tz
        if args.command == "today":
            today = datetime.now(tz).date()
            filters = Filters(today, today, args.project)
        else:
            filters = Filters(args.since, args.until, args.project)
        group_by = ["session"] if args.command == "session" else ["day", "project"] if args.by_project else ["day"]
        shown = _shown_as(args, settings, query, out)
        if shown is not None:
            answer = query.cached_answer(group_by, filters, shown)
            if answer is not None:
                out.write(answer)
                return EXIT_OK
        said = messages.said
        if args.command == "session":
            rows = session_report(query, filters)
        else:
            period = "daily" if args.command == "today" else args.command
            rows = period_report(query, period, filters, WEEKDAYS.index(settings.start_of_week), args.by_project)
        if settings.order == "desc":
            rows.reverse()
        _warn_unknown_project(query, args.project, messages)
        if not rows:
            for reason in explain_no_usage(query):
                messages.warn(reason)
        _warn_unpriced(query, messages)
        _warn_no_logged_costs(settings, [row.total for row in rows], messages)
        text = _print_report(args, settings, rows, query, tz, out, environ)
        # Warnings are said again by every run that computes the answer: one that had any is not kept.
        if shown is not None and text is not None and rows and messages.said == said:
            query.remember_answer(shown, text)
    return EXIT_OK


def _shown_as(args, settings, query, out):
    """All a report's JSON or CSV output depends on but its rows and the store: None for a table, which
    is not kept (it depends on the terminal too)."""
    if not (args.json or args.csv):
        return None
    try:
        code = os.stat(__file__)
    except OSError:
        return None   # not run from a file: nothing tells this program from another version
    prices = sorted((name, price.bands, price.fast, price.us_geo, price.regional, price.web_search)
                    for name, price in query.prices.overrides.items())
    return repr((__version__, code.st_size, code.st_mtime_ns, args.command, args.json, args.breakdown,
                 args.by_project, sorted(settings.values.items()), prices, sorted(query.source_names.items()),
                 out.isatty(), ascii_only(out)))


def run_models(args, settings, environ, out, messages):
    """models: requests, failures and latency per model tier and agent, beside each tier's calls."""
    with Session(args, settings, environ, messages) as session:
        query = session.query
        rows, agents = model_report(query, Filters(args.since, args.until))
        logged = any(source.kind != KIND_CLAUDE_CODE for source in session.sources.chosen)
        if not rows:
            for reason in explain_no_usage(query):
                messages.warn(reason)
    _warn_unpriced(query, messages)
    _warn_no_logged_costs(settings, [row.usage for row in rows], messages)
    # With several sources in use, each row says which saw its requests and calls.
    sources = query.source_list if query.several_sources else None
    if args.json:
        out.write(to_json(models_json(rows, agents, query.unpriced_models, sources), out) + "\n")
        return EXIT_OK
    if not rows:
        out.write("No usage found" + (" for the given filters" if args.since or args.until else "") + ".\n")
        return EXIT_OK
    width, style = _terminal(out, settings)
    out.write(render_models_table(rows, width, style, sources) + "\n")
    if any(agent is not None for agent, _ in agents):
        out.write("\n" + render_agents_table(agents, width, style) + "\n")
    if not agents:
        note = "No request was logged" + (" in these days." if args.since or args.until else ".") if logged \
            else NO_REQUESTS_NOTE
        out.write("\n" + "\n".join(wrap_words(note.split(" "), width)) + "\n")
    return EXIT_OK


def run_windows(args, settings, environ, out, messages):
    """blocks and status: the 5-hour windows."""
    # Only the last windows are read from the calls: these need no walk of every old log.
    quick = args.command == "status" or args.active
    with Session(args, settings, environ, messages, quick=quick) as session:
        query = session.query
        now_ms = int(time.time() * 1000)
        length_ms = int(settings.session_length * HOUR_MS)
        status, windows, limit, weekly = current_status(query, settings, now_ms)
        if args.command == "blocks":
            if args.project is not None:
                windows = project_windows(query, length_ms, args.project)
            if args.active:
                windows = [w for w in windows[-1:] if w.is_active(now_ms, length_ms)]
            elif args.recent:
                windows = [w for w in windows if w.end > now_ms - RECENT_DAYS * MS_PER_DAY]
            windows = windows_starting_between(windows, args.since, args.until, query.tz)
            price_windows(query, windows)
            windows = with_gaps(windows, length_ms)
            _warn_unknown_project(query, args.project, messages)
        # With several sources in use, each window says which saw its calls.
        sources = window_sources(query, windows) if args.command == "blocks" and query.several_sources else None
        if not windows:
            for reason in explain_no_usage(query):
                messages.warn(reason)
    _warn_unpriced(query, messages)
    shown = [w.usage for w in windows if not w.is_gap] if args.command == "blocks" else \
        [status.window.usage] if status is not None else []
    _warn_no_logged_costs(settings, shown, messages)
    if args.command == "status":
        if args.json:
            out.write(to_json(status_json(status, limit, weekly, now_ms), out) + "\n")
        else:
            last_window = next((w for w in reversed(windows) if not w.is_gap), None)
            out.write(render_status_answer(status, weekly, now_ms, length_ms, query.tz, *_terminal(out, settings),
                                           last_window))
        return EXIT_LIMIT_REACHED if status is not None and status.reached else EXIT_OK
    if settings.order == "desc":
        windows.reverse()
    if args.csv:
        write_csv(out, BLOCKS_CSV + (["source"] if sources else []),
                  [window_csv(w, now_ms, length_ms, limit) + (["+".join(sources[w.first])] if sources else [])
                   for w in windows if not w.is_gap])
        return EXIT_OK
    if args.json:
        def entry(window):
            data = window_json(window, now_ms, length_ms, limit)
            if sources and not window.is_gap:
                data["source"] = sources[window.first]
            return data
        out.write(to_json({"blocks": [entry(w) for w in windows],
                           "limit": {"tokens": limit.tokens, "basis": limit.basis, "official": limit.official},
                           "official": official_json(status, weekly, now_ms)}, out) + "\n")
        return EXIT_OK
    if not [w for w in windows if not w.is_gap]:
        out.write("No active window.\n" if args.active else "No usage found.\n")
        return EXIT_OK
    width, style = _terminal(out, settings)
    out.write(render_blocks_table(windows, now_ms, length_ms, limit, width, style, query.tz, sources) + "\n")
    out.write(render_limit(limit, width) + "\n")
    if status is not None:
        out.write("\n" + render_status(status, query.tz, width, style) + "\n")
    elif weekly:
        out.write(weekly_line(weekly, now_ms, query.tz) + "\n")
    return EXIT_OK


class StoreBusy(Exception):
    """Another process holds the store: a prompt shows what it knew last rather than wait."""


# A prompt or status line reads new logs for at most this many seconds (a cold store catches up over
# several prompts).
SEGMENT_READ_S = 0.12


def sync_for_segment(store, sources):
    """Bring the store up to date for a prompt or a status line: True when it is, False while catching up.

    The one place these commands read logs: raises StoreBusy rather than
    wait for another process's ingest.
    """
    report = ScanReport()
    store.sync(sources.existing, report, wait=False, budget=SEGMENT_READ_S, quick=True, kinds=sources.kinds)
    if report.busy:
        raise StoreBusy()
    return report.complete


def last_known_path(db):
    """The file beside the store that keeps the last facts a prompt or status line showed."""
    return db + ".last-line"


def read_last_known(db, key):
    """The facts last shown under the same settings (key), or None."""
    import json
    try:
        with open(last_known_path(db), encoding="utf-8") as f:
            kept = json.load(f)
        return kept["facts"] if kept.get("key") == key and isinstance(kept.get("facts"), dict) else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_last_known(db, key, facts):
    """Keep facts for the next run that finds the store busy; atomically, as many may write at once."""
    import json
    path = last_known_path(db)
    temporary = f"{path}.{os.getpid()}"
    try:
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump({"key": key, "facts": facts}, f, separators=(",", ":"))
        os.replace(temporary, path)
    except OSError:
        try:
            os.remove(temporary)
        except OSError:
            pass


def _transcript_root(path, roots):
    """The Claude config dir of a transcript that lies below none of roots (so is read as well), or None."""
    if not isinstance(path, str) or not path or not os.path.isfile(path):
        return None
    path = os.path.abspath(path)
    if any(path.startswith(os.path.join(os.path.abspath(root), "")) for root in roots):
        return None
    parts = path.split(os.sep)
    if "projects" not in parts[:-1]:
        return None
    return os.sep.join(parts[:len(parts) - 1 - parts[::-1].index("projects")]) or os.sep


def segment_line(command, settings, environ, messages, shell="plain", payload=None, args=None):
    """The line of prompt or statusline: never an exception, never a long wait.

    The store is brought up to date and read; when another process holds
    it, or anything fails, the facts last shown stand in (a failure is
    told in one warning).  No logs and no store: no facts.
    """
    import json
    now_ms = int(time.time() * 1000)
    payload = payload or {}
    db = settings.db or default_db_path(environ)
    try:
        sources = log_sources(settings, environ, messages, args, quiet=True)
    except CcusageError as exc:
        messages.warn(f"{command}: {exc}")
        sources = Sources([])
    extra = _transcript_root(payload.get("transcript"), sources.existing)
    if extra:
        sources.roots.append(extra)
        sources.existing.append(extra)
    key = json.dumps([sources.roots, sorted(sources.kinds.items()), settings.plan, settings.token_limit,
                      settings.session_length, settings.mode, settings.timezone, settings.start_of_week,
                      settings.prices_file])
    facts, tz = None, timezone.utc
    try:
        tz = load_timezone(settings.timezone)
        if sources.existing or os.path.exists(db):
            facts = _fresh_facts(settings, store_path(settings, environ), key, sources, payload, now_ms,
                                 tz, messages)
    except StoreBusy:
        facts = read_last_known(db, key)
    except Exception as exc:
        facts = read_last_known(db, key)
        messages.warn(f"{command}: {str(exc) or type(exc).__name__}")
    fmt = settings.prompt_format
    if command == "statusline" and settings.sources["prompt_format"] == "default":
        fmt = DEFAULT_STATUSLINE_FORMAT
    colour = settings.color == "always" or (settings.color == "auto" and (command == "statusline" or shell != "plain"))
    parts = parse_segment_format(fmt)
    try:
        line = render_segment(parts, segment_fields(facts or {}, now_ms, tz, settings.prompt_levels, payload),
                              shell, colour)
    except Exception:
        # Facts kept by another version of ccusage, in another shape.
        facts = None
        line = render_segment(parts, segment_fields({}, now_ms, tz, settings.prompt_levels, payload),
                              shell, colour)
    return line + " \u2026" if line and facts and facts.get("catching_up") else line


# Facts computed from the same state of the store stand for this long: a prompt redrawn, or several
# status lines refreshed at once, need not sum the same calls again.
FACTS_KEPT_MS = 30_000


def _fresh_facts(settings, db, key, sources, payload, now_ms, tz, messages):
    """The facts of the store brought up to date (kept beside it for the next run), or None without calls."""
    store = Store(db, messages)
    try:
        if payload.get("official_rows"):
            record_rate_limits(store.conn, payload["official_rows"], now_ms)
        complete = sync_for_segment(store, sources)
        if store.conn.execute("SELECT 1 FROM calls LIMIT 1").fetchone() is None:
            return None
        state = list(store.conn.execute(
            "SELECT (SELECT value FROM generation), (SELECT max(captured_at) FROM rate_limits)").fetchone())
        kept = read_last_known(db, key)
        if kept is not None and kept.get("state") == state and 0 <= now_ms - kept.get("at", 0) < FACTS_KEPT_MS \
                and complete:
            return kept
        query = UsageQuery(store, list(store.root_ids(sources.roots, sources.kinds).values()), _price_book(settings),
                           tz, settings.mode)
        facts = segment_facts(query, settings, now_ms)
        facts["catching_up"] = not complete
        facts["state"] = state
        write_last_known(db, key, facts)
        return facts
    finally:
        store.close()


def run_prompt(args, settings, environ, out, messages):
    line = segment_line("prompt", settings, environ, messages, args.shell, args=args)
    if line:
        out.write(line + "\n")
    return EXIT_OK


# A status-line payload is a few kilobytes; one larger than this is not Claude Code's, and goes unread.
STATUS_INPUT_MAX = 1024 * 1024
# Claude Code writes its payload at once: a stdin still silent after this long is not going to speak.
STATUS_INPUT_WAIT_S = 5.0


def read_status_input(stdin):
    """The status line's JSON object from stdin, or {} (a terminal, nothing, too much, not an object)."""
    import json
    try:
        fd = stdin.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None
    if fd is None:
        data = getattr(stdin, "buffer", stdin).read(STATUS_INPUT_MAX + 1)
    else:
        if os.isatty(fd):
            return {}
        import select
        chunks, size, deadline = [], 0, time.monotonic() + STATUS_INPUT_WAIT_S
        while size <= STATUS_INPUT_MAX:
            ready = select.select([fd], [], [], max(deadline - time.monotonic(), 0))[0]
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    if len(data) > STATUS_INPUT_MAX:
        return {}
    try:
        obj = json.loads(data.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return {}
    return obj if isinstance(obj, dict) else {}


def _number(value):
    """A finite number from a payload: a JSON number or a number written as a string."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if type(value) not in (int, float) or value != value or value in (float("inf"), float("-inf")):
        return None
    return value


def _epoch_seconds(value):
    """resets_at as epoch seconds: a number (seconds, or milliseconds when that large) or an ISO time."""
    number = _number(value)
    if number is None and isinstance(value, str):
        ms = parse_timestamp(value)
        return ms // 1000 if ms is not None else None
    if number is None or number <= 0:
        return None
    return int(number // 1000 if number > 1e11 else number)


def _field(obj, *path):
    for name in path:
        obj = obj.get(name) if isinstance(obj, dict) else None
    return obj


def official_rows(rate_limits):
    """[(window, used percent, resets_at s, used USD, limit USD, period)] of a payload's rate_limits."""
    rows = []
    if not isinstance(rate_limits, dict):
        return rows
    for window in ("five_hour", "seven_day"):
        percent = _number(_field(rate_limits, window, "used_percentage"))
        resets = _epoch_seconds(_field(rate_limits, window, "resets_at"))
        if percent is not None and 0 <= percent <= 1000 and resets:
            rows.append((window, float(percent), resets, None, None, None))
    spend = rate_limits.get("spend_limit")
    if isinstance(spend, dict):
        used, limit = _number(spend.get("used_usd")), _number(spend.get("limit_usd"))
        percent = _number(spend.get("used_percentage"))
        if percent is None and used is not None and limit:
            percent = 100 * used / limit
        period = spend.get("period") if isinstance(spend.get("period"), str) else None
        if percent is not None and 0 <= percent <= 1000:
            rows.append(("spend_limit", float(percent), _epoch_seconds(spend.get("resets_at")) or 0,
                         used, limit, period))
    return rows


def status_payload(obj, now_ms):
    """What a status line uses of Claude Code's payload, each part optional."""
    model = obj.get("model")
    name = (_field(model, "display_name") or _field(model, "id")) if isinstance(model, dict) else model
    context = _number(_field(obj, "context_window", "used_percentage"))
    size = _number(_field(obj, "context_window", "context_window_size"))
    current = _field(obj, "context_window", "current_usage")
    if context is None and size and isinstance(current, dict):
        used = [_number(current.get(k)) for k in ("input_tokens", "cache_creation_input_tokens",
                                                  "cache_read_input_tokens")]
        context = 100 * sum(u for u in used if u) / size
    rows = official_rows(obj.get("rate_limits"))
    payload = {"model": name if isinstance(name, str) and name else None,
               "session_cost": _number(_field(obj, "cost", "total_cost_usd")),
               "context": context if context is not None and 0 <= context <= 1000 else None,
               "transcript": obj.get("transcript_path"), "official_rows": rows}
    for window, percent, resets, *_ in rows:
        if window in ("five_hour", "seven_day"):
            payload[window] = [now_ms, percent, resets * 1000]
    return payload


def run_statusline(args, settings, environ, out, messages):
    try:
        payload = status_payload(read_status_input(sys.stdin), int(time.time() * 1000))
    except Exception:
        payload = {}
    line = segment_line("statusline", settings, environ, messages, payload=payload, args=args)
    if line:
        out.write(line + "\n")
    return EXIT_OK


def run_check(args, settings, environ, out, messages):
    """check: every budget now, then the alerts of those whose state changed; exit 0, 4 or 3."""
    if not settings.budgets.budgets:
        if args.json:
            out.write(to_json({"state": "ok", "budgets": []}, out) + "\n")
        else:
            out.write(f"No budgets are set: add a [budgets] table to {clean(settings.path)} (see man ccusage).\n")
        return EXIT_OK
    with Session(args, settings, environ, messages) as session:
        query = session.query
        now_ms = int(time.time() * 1000)
        states = evaluate_budgets(query, settings, now_ms)
        _warn_unpriced(query, messages)
        worst = worst_state(states)
        if args.json:
            out.write(to_json({"state": worst, "budgets": [budget_json(s) for s in states]}, out) + "\n")
        else:
            width, style = _terminal(out, settings)
            out.write("\n".join(budget_lines(states, style, width)) + "\n")
        out.flush()
        if args.notify or args.desktop:
            send_alerts(session.store, states, now_ms, args, settings.budgets, environ, messages)
    return {"ok": EXIT_OK, "warning": EXIT_BUDGET_WARNING, "exceeded": EXIT_BUDGET_EXCEEDED}[worst]


def send_alerts(store, states, now_ms, args, budgets, environ, messages):
    """Alert of each budget whose state changed since its last alert (and outside the cooldown)."""
    by_name = {s.budget.name: s for s in states}
    due = claim_alerts(store.conn, [(s.budget.name, s.state) for s in states if s.state != "unknown"], now_ms,
                       budgets.cooldown_minutes * MINUTE_MS)
    desktop = args.desktop and due and desktop_notifier()
    if args.desktop and due and not desktop:
        messages.warn("no notify-send or osascript found: no desktop notification shown")
    for name, previous, state in due:
        budget_state = by_name[name]
        delivered = False
        if args.notify:
            delivered |= run_alert_command(args.notify, alert_environment(budget_state, previous, environ),
                                           budgets.notify_timeout, name, messages)
        if desktop:
            delivered |= run_alert_command(desktop_notification(desktop, budget_state), None,
                                           budgets.notify_timeout, name, messages)
        if not delivered:
            release_alert(store.conn, name, previous, now_ms)


def alert_environment(state, previous, environ):
    """The environment of a notify command: ours, and the budget's figures."""
    unit = state.budget.unit
    return dict(environ, CCUSAGE_BUDGET=state.budget.name, CCUSAGE_BUDGET_STATE=state.state,
                CCUSAGE_BUDGET_PREVIOUS_STATE=previous, CCUSAGE_BUDGET_UNIT=unit,
                CCUSAGE_BUDGET_USED=budget_env_value(unit, state.used),
                CCUSAGE_BUDGET_LIMIT=budget_env_value(unit, state.budget.limit),
                CCUSAGE_BUDGET_PERCENT=f"{state.percent:.1f}",
                CCUSAGE_BUDGET_MESSAGE=budget_lines([state], Style(False))[0])


def desktop_notifier():
    """The path of notify-send, else of osascript (macOS), else None."""
    import shutil
    return shutil.which("notify-send") or shutil.which("osascript")


def _applescript_text(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def desktop_notification(program, state):
    """The argv that shows a budget's change with notify-send or osascript."""
    budget = state.budget
    title = f"ccusage: budget {budget.name} {state.state}"
    body = (f"{fmt_budget(budget.unit, state.used)} of {fmt_budget(budget.unit, budget.limit)} "
            f"({fmt_percent(state.percent)})")
    if os.path.basename(program) == "osascript":
        return [program, "-e", f"display notification {_applescript_text(body)} with title {_applescript_text(title)}"]
    return [program, "--app-name=ccusage", title, body]


def run_alert_command(argv, env, timeout, budget, messages):
    """Run an alert's argv (no shell) for at most timeout seconds; False, with a warning, if it fails or hangs.

    Its output is not shown; the last line of its stderr says why it failed.
    It runs in a process group of its own, so that what it started is
    stopped with it.
    """
    import signal
    import subprocess
    what = f"notify command {argv[0]!r} for budget {budget}"
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=env, start_new_session=True)
    except (OSError, ValueError) as exc:
        messages.warn(f"cannot run {what}: {_reason(exc)}")
        return False
    try:
        _, errors = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.stderr.close()
        proc.wait()
        messages.warn(f"{what} did not finish within {timeout:g} seconds: stopped it")
        return False
    if proc.returncode != 0:
        last = errors.decode("utf-8", "replace").strip().splitlines()[-1:]
        messages.warn(f"{what} failed (exit status {proc.returncode})" + (f": {last[0]}" if last else ""))
        return False
    return True


def run_summary(args, settings, environ, out, messages):
    """report: the summary of a day, week or month."""
    with Session(args, settings, environ, messages) as session:
        query = session.query
        now_ms = int(time.time() * 1000)
        today = datetime.fromtimestamp(now_ms / 1000, query.tz).date()
        kind = "week" if args.week else "month" if args.month else "day"
        first, last = summary_period(kind, args.date, today, WEEKDAYS.index(settings.start_of_week))
        tz_name = settings.timezone or system_timezone_name()
        summary = build_summary(query, settings, kind, first, last, tz_name, now_ms)
    _warn_unpriced(query, messages, unpriced_calls(summary.models.items()))
    if not summary.total.calls:
        if args.json:
            out.write(to_json({"period": {"kind": kind, "first": first.isoformat(), "last": last.isoformat(),
                                          "timezone": tz_name}, "totals": dict(usage_json(Usage()), calls=0)},
                              out) + "\n")
        else:
            out.write(f"No usage {'on' if kind == 'day' else 'in'} {period_title(summary)} ({clean(tz_name)}).\n")
        return EXIT_OK
    if args.json:
        out.write(to_json(summary_json(summary), out) + "\n")
    elif args.markdown:
        out.write(render_summary_markdown(summary, query.tz))
    else:
        width, style = _terminal(out, settings)
        out.write(render_summary_text(summary, query.tz, width, style))
    return EXIT_OK


class AtomicOutput:
    """A text file written under a temporary name beside path, then renamed over it whole.

    A reader of path (a node_exporter textfile collector, which reads *.prom
    only) sees the old file or the new one, never part of one.  A new file
    takes the mode the umask gives; a replaced one keeps its own.
    """

    def __init__(self, path):
        self.path = path
        self.temp = self.file = None

    def __enter__(self):
        import tempfile
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            mode = os.stat(self.path).st_mode & 0o7777
        except FileNotFoundError:
            mask = os.umask(0)
            os.umask(mask)
            mode = 0o666 & ~mask
        except OSError as exc:
            raise CcusageError(f"cannot write {self.path}: {_reason(exc)}")
        try:
            fd, self.temp = tempfile.mkstemp(prefix=f".{os.path.basename(self.path)}.", suffix=".tmp",
                                             dir=directory)
            os.fchmod(fd, mode)
        except OSError as exc:
            raise CcusageError(f"cannot write {self.path}: {_reason(exc)}")
        self.file = os.fdopen(fd, "w", encoding="utf-8", newline="")
        return self.file

    def __exit__(self, kind, exc, traceback):
        try:
            if kind is None:
                self.file.flush()
                os.fsync(self.file.fileno())
            self.file.close()
            if kind is None:
                os.replace(self.temp, self.path)
                self.temp = None
        except OSError as err:
            raise CcusageError(f"cannot write {self.path}: {_reason(err)}")
        finally:
            if self.temp is not None:
                try:
                    os.remove(self.temp)
                except OSError:
                    pass
        return False


def run_export(args, settings, environ, out, messages):
    with Session(args, settings, environ, messages) as session:
        query = session.query
        filters = Filters(args.since, args.until, args.project)
        _warn_unknown_project(query, args.project, messages)
        if args.output:
            with AtomicOutput(args.output) as stream:
                unpriced = _export(stream, args, settings, query, filters)
        else:
            unpriced = _export(out, args, settings, query, filters)
        _warn_unpriced(query, messages, unpriced)
    return EXIT_OK


def _export(out, args, settings, query, filters):
    """Write the export; returns {model name: calls without a price} of a Prometheus export (None: the query's)."""
    if args.format == "prometheus":
        _, latest = store_activity(query)
        now_ms = int(time.time() * 1000)
        usage = usage_by_project_model(query, filters)
        out.write(prometheus_text(usage, active_window_figures(query, settings, now_ms),
                                  latest[0] if latest else None, now_ms, request_stats(query, filters),
                                  lambda part: query.source_text(part.roots)))
        return unpriced_calls((model, part) for (_, model), part in usage.items())
    rows = export_calls(query, filters)
    if args.aggregate:
        rows = aggregate_export(rows, args.aggregate, query.tz)
    write_export(out, rows, args.format, args.aggregate, query.tz, query.unpriced_models,
                 lambda usage: query.source_text(usage.roots))
    return None


def run_serve(args, settings, environ, out, messages):
    """serve: answer HTTP from the store until SIGTERM or SIGINT."""
    import signal
    usage = UsageServer(args, settings, environ, messages)
    server = http_server(args.host, args.port, usage)

    def stop(signum, frame):
        raise ServeStopped()

    previous = {number: signal.signal(number, stop) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        if not is_loopback(args.host):
            messages.warn(f"listening on {args.host}, which other machines can reach: anyone who reaches it "
                          "reads your usage, project paths and activity included, with no password")
        usage.start()
        host, port = server.server_address[:2]
        shown = f"[{host}]" if ":" in host else host
        messages.note(f"serving http://{shown}:{port}/metrics, /api/summary, /api/history and /healthz")
        server.serve_forever(poll_interval=0.5)
    except ServeStopped:
        pass
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        usage.stop()
        server.server_close()
    messages.note("stopped")
    return EXIT_OK


def run_prune(args, settings, environ, out, messages):
    """prune: delete the calls before a day (after reading what is new, so that none come back)."""
    with Session(args, settings, environ, messages) as session:
        query, store = session.query, session.store
        before_ms = local_midnight_ms(args.before, query.tz)
        plan = prune_plan(query, before_ms)
        when = f"before {args.before.isoformat()} ({clean(settings.timezone or system_timezone_name())})"
        if not plan:
            out.write(f"No calls {when}: nothing to delete.\n")
            return EXIT_OK
        width, style = _terminal(out, settings)
        out.write(render_prune_table(plan, width, style) + "\n")
        calls = sum(row[2] for row in plan)
        if args.dry_run:
            out.write(f"Would delete {fmt_int(calls)} calls {when}; nothing was deleted (--dry-run).\n")
            return EXIT_OK
        deleted = prune_calls(store.conn, before_ms)
        size_before, size_after = compact_store(store)
        out.write(f"Deleted {fmt_int(deleted)} calls {when}; the store went from "
                  f"{size_before / 1e6:,.1f} MB to {size_after / 1e6:,.1f} MB.\n")
    return EXIT_OK


def _terminal(out, settings):
    """(width, Style) for tables written to out: $COLUMNS, else a terminal's own width, else 80 columns."""
    width = max(MIN_WIDTH, terminal_columns()) if out.isatty() or _columns_variable() else 80
    return width, Style(use_color(settings.color, out), ascii_only(out))


def _note_unreadable(report, messages):
    count = len(report.unreadable)
    messages.warn(f"{fmt_count(count, 'file or directory', 'files or directories')} could not be read; "
                  "--verbose lists them")


def _verbose(store, report, root_ids, messages, names):
    """names: {root id: source name}; with several sources, the skipped lines are counted per source."""
    lines = [f"read {report.bytes_read:,} bytes from {report.files_read:,} of {report.files:,} log files "
             f"({report.calls_seen:,} billable lines)"]
    for path, reason in report.unreadable:
        lines.append(f"unreadable: {path}: {reason}")
    skipped = store.skipped_lines(root_ids)
    several = len(set(names.values())) > 1
    for name in sorted({names.get(root_id) for _, _, root_id in skipped}, key=str) if several else [None]:
        files = [(path, n) for path, n, root_id in skipped if not several or names.get(root_id) == name]
        if files:
            count = sum(n for _, n in files)
            lines.append((f"{name}: " if several else "")
                         + f"skipped {fmt_count(count, 'malformed line')} in {fmt_count(len(files), 'file')}:")
            lines.extend(f"  {n:,}  {path}" for path, n in files)
    for text in lines:
        messages.note(text)


def _print_report(args, settings, rows, query, tz, out, environ):
    """Write the report; returns the text written for JSON and CSV (None for a table)."""
    period = "daily" if args.command == "today" else args.command
    # With several sources in use, each row says which saw its calls.
    sources = (lambda row: query.source_list(row.total.roots)) if query.several_sources else None
    if args.json:
        def entry(row, labels):
            data = session_json(row) if period == "session" else row_json(row, **labels)
            if sources:
                data["source"] = sources(row)
            return data
        if period == "session":
            data = {"sessions": [entry(r, {}) for r in rows]}
        else:
            field = {"daily": "date", "weekly": "week", "monthly": "month"}[period]
            if args.by_project:
                projects = {}
                for r in rows:
                    projects.setdefault(r.project, []).append(entry(r, {field: r.key}))
                data = {"projects": projects}
            else:
                data = {period: [entry(r, {field: r.key}) for r in rows]}
        data["totals"] = totals_json(rows, query.unpriced_models)
        text = to_json(data, out) + "\n"
    elif args.csv:
        import io
        text = io.StringIO()
        _print_csv(period, rows, args, text, sources)
        text = text.getvalue()
    else:
        width, style = _terminal(out, settings)
        if not rows:
            out.write("No usage today.\n" if args.command == "today" else "No usage found"
                      + (" for the given filters" if args.since or args.until or args.project else "") + ".\n")
            return None
        if period == "session":
            out.write(render_session_table(rows, args.breakdown, width, style, tz, sources) + "\n")
        else:
            out.write(render_period_table(rows, period, args.breakdown, args.by_project, width, style,
                                          plan_price(settings)[0] if period == "monthly" else None, sources)
                      + "\n")
        footnote = unpriced_footnote(_shown_usages(rows, args.breakdown), query.unpriced_models)
        if footnote:
            out.write("\n".join(wrap_words(footnote.split(" "), width)) + "\n")
        if period == "monthly" and plan_price(settings)[0]:
            price, basis = plan_price(settings)
            words = f"Vs plan: API value as a multiple of ${price:,.2f} a month ({clean(basis)})".split(" ")
            out.write("\n".join(wrap_words(words, width)) + "\n")
        return None
    out.write(text)
    return text


def _shown_usages(rows, breakdown):
    """The usages whose costs a report's table shows, its total among them."""
    total = Usage()
    for row in rows:
        total.add(row.total)
        yield row.total
        if breakdown:
            yield from row.models.values()
    yield total


def _warn_no_logged_costs(settings, usages, messages):
    """-m display shows only the costs Claude Code logged; say so when there are none to show."""
    if settings.mode == "display" and any(u.calls for u in usages) and not any(u.cost for u in usages):
        messages.warn("-m display found no logged costs (costUSD, which Claude Code wrote up to version 1.0.8) "
                      "in these calls, so every cost is $0.00; -m auto or -m calculate prices them")


def _print_csv(period, rows, args, out, sources=None):
    """sources: the source names of a row, when several sources are in use (a last column, "a+b")."""
    tail = (lambda r: ["+".join(sources(r))]) if sources else (lambda r: [])
    if period == "session":
        headers = ["session_id", "project_path", "first_activity", "last_activity", "model"] + CSV_USAGE
        records = []
        for r in rows:
            lead = [r.session, r.project, _iso(r.total.first), _iso(r.total.last)]
            records.append(lead + ["(all)"] + _csv_usage(r.total) + tail(r))
            if args.breakdown:
                records.extend(lead + [m] + _csv_usage(u) + tail(r) for m, u in _models_by_cost(r))
        write_csv(out, headers + (["source"] if sources else []), records)
        return
    label = {"daily": "date", "weekly": "week", "monthly": "month"}[period]
    headers = ([label] if not args.by_project else ["project", label]) + ["model"] + CSV_USAGE
    records = []
    for r in rows:
        lead = [r.key] if not args.by_project else [r.project, r.key]
        records.append(lead + ["(all)"] + _csv_usage(r.total) + tail(r))
        if args.breakdown:
            records.extend(lead + [m] + _csv_usage(u) + tail(r) for m, u in _models_by_cost(r))
    write_csv(out, headers + (["source"] if sources else []), records)


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------

# Each command's run_* function: (args, settings, environ, out, messages) -> exit status.
RUNNERS = {**{name: run_report for name in REPORTS}, **{name: run_windows for name in WINDOW_COMMANDS},
           "models": run_models, "check": run_check, "report": run_summary, "export": run_export, "serve": run_serve,
           "prune": run_prune, "prompt": run_prompt, "statusline": run_statusline, "live": run_live,
           "config": run_config}


def _subparser(parser, command):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(command)
    return None


def arrange_argv(parser, argv):
    """argv with the options given before the command moved after it, and dash values joined to their option.

    An option before the command applies to it exactly as after it, or is
    refused naming the command (ccusage --since DATE blocks).  A value that
    starts with a dash, such as the directory names Claude Code gives
    projects (-p -home-dev-game), is kept as the option's value.
    """
    takes_value = {option for action in parser._actions for option in action.option_strings if action.nargs != 0}
    command, arranged, before = None, [], []
    words = iter(argv)
    for word in words:
        if word == "--":
            arranged.append(word)
            arranged.extend(words)
            break
        if command is None and word in RUNNERS:
            command = word
            sub = _subparser(parser, command)
            for option in before:
                if sub is not None and option not in sub._option_string_actions:
                    parser.error(f"argument {option}: the {command} command does not take it "
                                 f"(an option before the command is the command's)")
            arranged = [word] + arranged
            continue
        name = word.split("=", 1)[0] if word.startswith("--") else word[:2]
        if word.startswith("-") and name in takes_value and "=" not in word and len(word) == len(name):
            value = next(words, None)
            if value is None:
                arranged.append(word)
                break
            if value.startswith("-") and value.split("=", 1)[0] not in parser._option_string_actions:
                arranged.append(f"{word}={value}")
            else:
                arranged.extend((word, value))
            if command is None:
                before.append(name)
            continue
        if command is None and word.startswith("-") and word != "-":
            before.extend([name] if word.startswith("--") or len(word) == 2 or name in takes_value
                          else [f"-{c}" for c in word[1:]])
        arranged.append(word)
    return arranged


def main(argv=None):
    """Run ccusage with argv (default: sys.argv[1:]); return the exit status.

    Run as the program itself (argv None), it ends the process as soon as
    its output is flushed: the interpreter's teardown of every module costs
    a quick command a tenth of its time, and nothing of ccusage needs it
    (the store is closed, helpers are reaped, files are closed by then).
    """
    if argv is not None:
        return run_command(list(argv))
    code = run_command(sys.argv[1:])
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = EXIT_OK
    os._exit(code)


def run_command(argv):
    """What main does with a command line: the exit status."""
    environ = os.environ
    escape_unencodable(sys.stdout)
    messages = Messages()
    # The first word that names a command is the command, unless it is an
    # option's value; then the quick parser fails and the whole one decides.
    named = next((word for word in argv if word in COMMANDS), "daily")
    args = quick_args(argv)
    try:
        if args is None:
            if "-h" in argv or "--help" in argv:
                raise _Unparsed("help lists every command")
            load_argparse()
            parser = build_parser(named, _QuickParser)
            args = parser.parse_args(arrange_argv(parser, argv))
    except _Unparsed:
        parser = build_parser()
        args = parser.parse_args(arrange_argv(parser, argv))
    args = check_args(args)
    try:
        if args.command == "config" and args.action == "path":
            sys.stdout.write(clean(config_path(environ, getattr(args, "config", None))[0]) + "\n")
            return EXIT_OK
        section = args.section if args.command == "config" else args.command
        settings = resolve_settings(args, environ, section, messages.warn,
                                    creating=args.command == "config" and args.action == "init")
        return RUNNERS[args.command](args, settings, environ, sys.stdout, messages)
    except CcusageError as exc:
        sys.stderr.write(f"{PROG}: error: {clean(str(exc))}\n")
        return exc.exit_code
    except BrokenPipeError:
        # The reader (head, less) has seen enough: stop quietly, and keep
        # Python from complaining when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

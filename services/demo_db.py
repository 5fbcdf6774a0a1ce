"""The demo database: a small, made-up shop (customers, products, orders, order items, reviews).

It exists so that every machine has the *same* data to query: rows come from a seeded ``random.Random``, so
two builds with the same scale and seed hold identical table data, and the preset queries take about the same
time everywhere (roughly 0.3-1.5 s each at scale 1.0 on a 2-core machine - slow enough to freeze a window).

Building is plain synchronous code; the GUI runs it in a worker thread (``asyncio.to_thread``), reports
``progress`` and can stop it with a ``threading.Event``.

The build is atomic: rows go into a temporary file next to the target, which is renamed over the target only
once it is complete (``os.replace``). A cancelled, failed or killed build never leaves a half-written file at
the real path - and ``demo_db_status`` tells a good database from a missing, outdated or corrupt one.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

SCHEMA_VERSION = 1  # bump whenever the schema or the generated data change: old files then read "outdated"

# Rows per table at scale 1.0 (order_items come out at ~3 per order): ~1.55 million rows in all.
BASE_ROWS = {"customers": 50_000, "products": 5_000, "orders": 300_000, "reviews": 300_000}
BATCH = 20_000  # rows per executemany: big enough to be fast, small enough for smooth progress and cancel
MAX_SCALE = 20.0

Progress = Callable[[int, int, str], None]  # progress(done_rows, total_rows, stage)


class BuildCancelled(Exception):
    """Raised by build_demo_db when its cancel event was set; the partial file has been removed."""


class BuildFailed(OSError):
    """SQLite could not write the database (the disk is full, an I/O error...); the partial file has been
    removed. An OSError, like the other ways a build can fail for reasons outside the program."""


SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    country TEXT NOT NULL,
    city TEXT NOT NULL,
    signed_up TEXT NOT NULL,           -- ISO date
    referred_by INTEGER REFERENCES customers(id)
);
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    price REAL NOT NULL
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    ordered_at TEXT NOT NULL,          -- ISO timestamp
    status TEXT NOT NULL,
    total REAL NOT NULL                -- sum of its items (denormalised, as real shops do)
);
CREATE TABLE order_items (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders(id),
    product_id INTEGER NOT NULL REFERENCES products(id),
    quantity INTEGER NOT NULL,
    unit_price REAL NOT NULL
);
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES products(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    rating INTEGER NOT NULL,
    body TEXT NOT NULL
);
"""

# Only the indexes a real shop would have for its foreign keys. Totals, dates, names and review text are left
# unindexed on purpose: the preset queries have to scan and sort, which is what makes them slow.
INDEXES = """
CREATE INDEX orders_customer ON orders(customer_id);
CREATE INDEX order_items_order ON order_items(order_id);
CREATE INDEX customers_referrer ON customers(referred_by);
"""

TABLES = ("customers", "products", "orders", "order_items", "reviews")

# --- vocabulary for the made-up rows ------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST = _words(
    "Ada Alan Alice Amara Ana Ben Bo Carla Chen Dana Diego Eli Emma Eva Farah Felix Grace Hana Hugo Ines "
    "Ivan Jonas Julia Kai Kenji Lara Leo Lina Luca Maya Mei Mira Nadia Noah Nora Omar Oskar Paula Priya "
    "Quinn Rafael Rosa Sam Sara Sofia Tariq Theo Una Vera Wen Yara Yusuf Zoe"
)
LAST = _words(
    "Abe Berg Costa Dahl Dube Eriksen Fischer Garcia Haas Ito Jensen Kim Kowalski Lopez Moreau Murphy Nagy "
    "Novak Okafor Patel Quist Rossi Sato Schmidt Silva Smith Tanaka Umar Varga Wagner Weber Xu Yilmaz Zhang"
)
PLACES = {
    "Brazil": ("Sao Paulo", "Recife", "Curitiba"),
    "Canada": ("Toronto", "Halifax", "Calgary"),
    "France": ("Lyon", "Nantes", "Lille"),
    "Germany": ("Berlin", "Leipzig", "Bremen"),
    "India": ("Pune", "Kochi", "Jaipur"),
    "Japan": ("Osaka", "Sendai", "Fukuoka"),
    "Kenya": ("Nairobi", "Mombasa", "Kisumu"),
    "Mexico": ("Puebla", "Merida", "Leon"),
    "Norway": ("Oslo", "Bergen", "Tromso"),
    "Poland": ("Gdansk", "Krakow", "Poznan"),
    "Spain": ("Bilbao", "Malaga", "Zaragoza"),
    "USA": ("Austin", "Boston", "Denver"),
}
COUNTRIES = tuple(PLACES)
DOMAINS = ("example.com", "example.org", "example.net", "mail.example")
CATEGORIES = (
    "books",
    "garden",
    "games",
    "kitchen",
    "music",
    "office",
    "outdoor",
    "sports",
    "tools",
    "toys",
)
ADJECTIVES = _words(
    "bright compact classic deluxe durable eco handy light mini modern quiet rapid smart sturdy tiny"
)
NOUNS = _words(
    "bottle brush cable chair clock desk drill glove guitar kettle lamp mug notebook pan pen puzzle racket "
    "rope saw scarf speaker tent timer towel wallet"
)
REVIEW_WORDS = _words(
    "good great fine poor broke fast slow arrived late early love hate works perfectly as described "
    "cheap expensive value would buy again never quality sturdy flimsy gift kids happy sad return "
    "colour size fits small large battery lasts weeks months recommend not the it and but very"
)
STATUSES = ("delivered",) * 8 + ("shipped", "cancelled", "returned")
START = date(2022, 1, 1)
DAYS = 3 * 365  # orders and sign-ups spread over three years


def row_counts(scale: float) -> dict[str, int]:
    """Rows per table (order_items excluded: that depends on the random basket sizes, ~3 per order)."""
    return {table: max(10, round(n * scale)) for table, n in BASE_ROWS.items()}


def _batches(rows: Iterator[tuple], size: int | None = None) -> Iterator[list[tuple]]:
    size = size or BATCH
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _customers(rng: random.Random, n: int) -> Iterator[tuple]:
    for i in range(1, n + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        country = rng.choice(COUNTRIES)
        signed_up = (START + timedelta(days=rng.randrange(DAYS))).isoformat()
        # About two customers in three were referred by an earlier one: a forest for the recursive preset.
        referrer = rng.randrange(1, i) if i > 1 and rng.random() < 0.65 else None
        yield (
            i,
            f"{first} {last}",
            f"{first}.{last}{i}@{rng.choice(DOMAINS)}".lower(),
            country,
            rng.choice(PLACES[country]),
            signed_up,
            referrer,
        )


def _products(rng: random.Random, n: int) -> Iterator[tuple]:
    for i in range(1, n + 1):
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {i}"
        yield (i, name, rng.choice(CATEGORIES), round(rng.uniform(2.0, 400.0), 2))


def _orders_and_items(
    rng: random.Random, baskets: list[int], n_customers: int, prices: list[float]
) -> Iterator[tuple[tuple, list[tuple]]]:
    """Yields (order row, its item rows); the order's total is the sum of its items."""
    item_id = 0
    n_products = len(prices)
    for order_id, basket in enumerate(baskets, 1):
        items = []
        total = 0.0
        for _ in range(basket):
            item_id += 1
            product = rng.randint(1, n_products)
            quantity = rng.randint(1, 4)
            price = prices[product - 1]
            total += quantity * price
            items.append((item_id, order_id, product, quantity, price))
        when = (
            f"{START + timedelta(days=rng.randrange(DAYS))}T{rng.randrange(24):02d}:{rng.randrange(60):02d}"
        )
        order = (order_id, rng.randint(1, n_customers), when, rng.choice(STATUSES), round(total, 2))
        yield order, items


def _reviews(rng: random.Random, n: int, n_products: int, n_customers: int) -> Iterator[tuple]:
    for i in range(1, n + 1):
        body = " ".join(rng.choices(REVIEW_WORDS, k=rng.randint(12, 50)))
        yield (i, rng.randint(1, n_products), rng.randint(1, n_customers), rng.randint(1, 5), body)


# --- the build ---------------------------------------------------------------------------------------------


def build_demo_db(
    path: str | os.PathLike[str],
    *,
    scale: float = 1.0,
    seed: int = 1234,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Build the demo database at ``path`` (replacing any file there) and return its path.

    ``progress(done_rows, total_rows, stage)`` is called after every batch; setting ``cancel`` stops the build
    at the next batch with BuildCancelled. Either way no partial file is left behind.
    """
    if not (0 < scale <= MAX_SCALE):
        raise ValueError(f"scale must be in (0, {MAX_SCALE:g}], got {scale!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(target)
    temp = _temp_path(target)

    rng = random.Random(seed)
    counts = row_counts(scale)
    baskets = [rng.randint(1, 5) for _ in range(counts["orders"])]  # items per order, drawn up front...
    total = sum(counts.values()) + sum(baskets)  # ...so that the progress total is exact
    done = 0

    def step(n: int, stage: str) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total, stage)
        if cancel is not None and cancel.is_set():
            raise BuildCancelled("demo database build cancelled")

    conn = sqlite3.connect(temp, isolation_level=None)  # we manage the one transaction ourselves
    try:
        # A throwaway file: no journal, no fsync per write. Safe because a failed build is deleted anyway.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MiB page cache: index building stays in memory
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("BEGIN")
        # (executescript would COMMIT first, so the schema runs statement by statement inside our transaction)
        for statement in _statements(SCHEMA):
            conn.execute(statement)
        step(0, "schema")

        for batch in _batches(_customers(rng, counts["customers"])):
            conn.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
            step(len(batch), "customers")

        products = list(_products(rng, counts["products"]))
        for batch in _batches(iter(products)):
            conn.executemany("INSERT INTO products VALUES (?, ?, ?, ?)", batch)
            step(len(batch), "products")
        prices = [p[3] for p in products]

        orders = _orders_and_items(rng, baskets, counts["customers"], prices)
        n_items = 0
        for batch in _batches(orders, BATCH // 4):
            items = [item for _, its in batch for item in its]
            conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", [order for order, _ in batch])
            conn.executemany("INSERT INTO order_items VALUES (?, ?, ?, ?, ?)", items)
            n_items += len(items)
            step(len(batch) + len(items), "orders")

        reviews = _reviews(rng, counts["reviews"], counts["products"], counts["customers"])
        for batch in _batches(reviews):
            conn.executemany("INSERT INTO reviews VALUES (?, ?, ?, ?, ?)", batch)
            step(len(batch), "reviews")

        for statement in _statements(INDEXES):
            conn.execute(statement)
            step(0, "indexes")
        conn.execute("ANALYZE")  # planner statistics: the same plans on every machine

        meta = {
            "schema_version": SCHEMA_VERSION,
            "scale": repr(float(scale)),
            "seed": seed,
            "order_items": n_items,
        }
        meta.update({table: n for table, n in counts.items()})
        conn.executemany("INSERT INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in meta.items()])
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
        conn.close()
        # Flush to disk before the rename, so a crash can't leave a renamed-but-empty file.
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)  # atomic: readers see the old file or the new one, never half of one
        if progress is not None:
            progress(done, total, "done")
        return target
    except BaseException as exc:
        conn.close()
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        if isinstance(exc, sqlite3.Error):  # e.g. "database or disk is full": say it in words, as an OSError
            raise BuildFailed(_build_failure(exc)) from exc
        raise


def _build_failure(exc: sqlite3.Error) -> str:
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF  # the primary result code, if SQLite set one
    if code == sqlite3.SQLITE_FULL or "disk is full" in str(exc):
        return f"the disk is full ({exc})"
    return str(exc)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


# --- temp files ---------------------------------------------------------------------------------------------
# ".demo.sqlite3.<pid>.<random>.building" - hidden, never the real name, and tagged with the builder's pid so
# a later build can tell a stale leftover (its process is gone) from a build still running in another process.


def _temp_path(target: Path) -> Path:
    token = random.SystemRandom().getrandbits(32)
    return target.with_name(f".{target.name}.{os.getpid()}.{token:08x}.building")


def remove_stale_temp_files(target: str | os.PathLike[str]) -> list[Path]:
    """Delete temp files left by killed builds of ``target`` (those whose process is gone); return them."""
    target = Path(target)
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(\d+)\.[0-9a-f]{{8}}\.building$")
    removed = []
    if not target.parent.is_dir():
        return removed
    for candidate in target.parent.iterdir():
        m = pattern.match(candidate.name)
        if m and not _pid_alive(int(m.group(1))):
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # maybe another thread of ours is building right now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True


# --- status -------------------------------------------------------------------------------------------------


def demo_db_status(
    path: str | os.PathLike[str], *, scale: float | None = None, seed: int | None = None
) -> str:
    """Return "missing", "ok", "outdated" or "corrupt" - without ever writing to the file.

    "outdated": a demo database from another schema version (or another scale/seed, when given).
    "corrupt": not a readable demo database at all (garbage, empty, truncated, or not ours).
    """
    target = Path(path)
    if not target.exists():
        return "missing"
    if not target.is_file() or target.stat().st_size == 0:
        return "corrupt"
    try:
        conn = sqlite3.connect(f"{target.absolute().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return "corrupt"
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta"))
        except sqlite3.OperationalError:  # no meta table: not one of ours
            return "outdated" if version not in (0, SCHEMA_VERSION) else "corrupt"
        if version != SCHEMA_VERSION or meta.get("schema_version") != str(SCHEMA_VERSION):
            return "outdated"
        if scale is not None and meta.get("scale") != repr(float(scale)):
            return "outdated"
        if seed is not None and meta.get("seed") != str(seed):
            return "outdated"
        # Cheap integrity probe: the last row of every table is where the builder said (this reads each
        # table's rightmost pages, so a truncated file fails here). A full integrity_check takes seconds.
        for table in TABLES:
            (last,) = conn.execute(f"SELECT max(id) FROM {table}").fetchone()
            if meta.get(table) is None or str(last) != meta[table]:
                return "corrupt"
        return "ok"
    except (sqlite3.DatabaseError, TypeError, ValueError):
        return "corrupt"
    finally:
        conn.close()


def ensure_demo_db(
    path: str | os.PathLike[str],
    *,
    scale: float = 1.0,
    seed: int = 1234,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Return ``path``, building the demo database first unless it is already there and "ok"."""
    target = Path(path)
    remove_stale_temp_files(target)
    if demo_db_status(target, scale=scale, seed=seed) == "ok":
        return target
    return build_demo_db(target, scale=scale, seed=seed, progress=progress, cancel=cancel)


def default_demo_db_path() -> Path:
    """Where the app keeps its demo database: the user's cache directory (XDG on Linux)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "freezelab" / "demo.sqlite3"

"""Personal data at rest (PIPL): per-subject data keys, sealed fields, crypto-shredding.

The model (README, *Personal data*):

- Every personal field of an event (a member's openid, unionid, phone, nickname, birthday; an
  order's customer coordinates; a guide's WeCom id and name) is
  *sealed* in the stored event: AES-256-GCM under the data key of the person it is about (the
  *subject*: the member, or the guide), with the subject's id as associated data. The sealed value
  names its subject in clear (``{"_type_": "pii", "_data_": "<subject hex>.<base64 nonce|ct>"}``),
  so any reader knows whose key it needs, snapshots included, without knowing the event's shape.
- Which fields are personal is this module's table (:data:`PERSONAL_FIELDS`), applied by
  :class:`PersonalDataMapper` at the mapper boundary. Why there: the domain keeps plaintext values
  and stays pure; the transcoder stays generic; the mapper is the one place every event and
  snapshot passes through on its way to and from the database.
- Data keys (32 random bytes per subject) are stored in ``data_keys`` wrapped (AES-GCM) by a
  key-encryption key (KEK) from configuration, behind :class:`KeyProvider`. Rotating the KEK
  re-wraps the data keys (:func:`rotate`); events are never touched.
- Erasure destroys a subject's wrapped data key (the row stays, ``wrapped`` NULL, with when):
  every sealed value of that subject then decodes as ``None``, in every read, replay and rebuild.
  The hash chain covers the ciphertext, which does not change, so it still verifies.
- Start-up checks the configured keys against verifiers stored in the database
  (:meth:`Keyring.open`): a wrong or missing KEK or blind-index key stops the server
  (:class:`KeyConfigurationError`) instead of serving garbage or writing under a second key.

Reads never miss a key: :class:`PrivateEventStore` wraps the event store and, for every event,
snapshot and notification it returns, loads the data keys its sealed values name (one query for
those not cached) before the caller decodes. Writes seal with a cached key, or a new one for a new
subject, stored (wrapped) before the events that use it are committed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import IntegrityError, Mapper, StoredEvent, Transcoding
from eventsourcing.utils import get_topic

from application.background import stop_task
from application.ports import CommitOutcome, LoggedRequest, Write
from infrastructure.migrations import Names
from infrastructure.transcoder import OrjsonTranscoder

SEALED_TAG = "pii"
_SEALED_SUBJECTS = re.compile(rb'"_type_":"pii","_data_":"([0-9a-f]{32})\.')
_KEK_CHECK_AAD = b"loyalty-kek-check"
_BLIND_CHECK_MESSAGE = b"loyalty-blind-index-check"
_SUBJECT_CACHE = 100_000
"""Subject ids parsed from sealed values, kept (hex -> UUID) until this many, then dropped all at once."""
REQUEST_LOG_SUBJECT = UUID("00000000-0000-5000-8000-00000000a11e")
"""The request log's responses are sealed under a key of their own (purged after the retention period)."""


class KeyConfigurationError(RuntimeError):
    """The configured keys do not open the database's data keys: refuse to start."""


class DataKeyNotLoaded(LookupError):
    """A sealed value's data key was not loaded before decoding (a reader bypassed PrivateEventStore)."""


class DataKeyConflict(IntegrityError):
    """Another process stored a data key for the same new subject first: the commands run again."""


class SubjectErased(RuntimeError):
    """A write tried to seal personal data of a subject whose key was destroyed."""


# ------------------------------------------------------------------ key-encryption keys


class KeyProvider(Protocol):
    """Wraps and unwraps data keys with the key-encryption key(s); a cloud KMS could implement it."""

    current_id: str

    def wrap(self, plaintext: bytes, aad: bytes) -> tuple[str, bytes]: ...

    def unwrap(self, kek_id: str, wrapped: bytes, aad: bytes) -> bytes: ...

    def knows(self, kek_id: str) -> bool: ...


def _b64key(text: str, what: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise KeyConfigurationError(f"{what} is not base64") from None
    if len(key) != 32:
        raise KeyConfigurationError(f"{what} must be 32 bytes (base64), got {len(key)}")
    return key


@dataclass
class StaticKeyProvider:
    """KEKs held in memory, from the environment or a file: the first is current, the others only unwrap."""

    keys: dict[str, bytes]
    current_id: str

    def __post_init__(self) -> None:
        if self.current_id not in self.keys:
            raise KeyConfigurationError(f"current KEK {self.current_id!r} is not among the configured keys")
        self._aead = {kid: AESGCM(key) for kid, key in self.keys.items()}

    def wrap(self, plaintext: bytes, aad: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(12)
        return self.current_id, nonce + self._aead[self.current_id].encrypt(nonce, plaintext, aad)

    def unwrap(self, kek_id: str, wrapped: bytes, aad: bytes) -> bytes:
        aead = self._aead.get(kek_id)
        if aead is None:
            raise KeyConfigurationError(f"KEK {kek_id!r} that wrapped stored data keys is not configured")
        try:
            return aead.decrypt(wrapped[:12], wrapped[12:], aad)
        except InvalidTag:
            raise KeyConfigurationError(f"KEK {kek_id!r} does not open the stored data keys (wrong key)") from None

    def knows(self, kek_id: str) -> bool:
        return kek_id in self.keys


def parse_keks(text: str) -> StaticKeyProvider:
    """``id:base64,id2:base64``: the first is current (wraps), the others unwrap (rotation)."""
    keys: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kid, sep, key = part.partition(":")
        if not sep or not kid:
            raise KeyConfigurationError("LOYALTY_KEK must be id:base64key pairs, comma separated")
        keys[kid] = _b64key(key, f"KEK {kid!r}")
    if not keys:
        raise KeyConfigurationError("LOYALTY_KEK is empty")
    return StaticKeyProvider(keys, next(iter(keys)))


@dataclass(frozen=True)
class KeyConfig:
    provider: KeyProvider
    blind_index_key: bytes


def development_keys(data_dir: Path) -> dict[str, str]:
    """Random keys written once to ``<data dir>/keys.json`` (0600) for a server started without any.

    Written whole under a temporary name and linked into place, so processes starting together agree.
    Losing this file loses every member's personal data: production configures its own keys.
    """
    path = data_dir / "keys.json"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        temporary = data_dir / f".keys-{secrets.token_hex(8)}.json"
        fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(
                {
                    "LOYALTY_KEK": f"dev1:{base64.b64encode(secrets.token_bytes(32)).decode()}",
                    "LOYALTY_BLIND_INDEX_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
                },
                f,
                indent=2,
            )
        try:
            os.link(temporary, path)  # atomic; fails if another process was first
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return json.loads(path.read_text())


def key_config(env: Mapping[str, str], data_dir: Path | None = None) -> KeyConfig:
    """``LOYALTY_KEK`` and ``LOYALTY_BLIND_INDEX_KEY`` (or ``LOYALTY_KEYS_FILE``, a JSON object of both);
    with none of them, development keys in ``data_dir``. One without the other is an error."""
    values = dict(env)
    if path := env.get("LOYALTY_KEYS_FILE"):
        try:
            values = {**json.loads(Path(path).read_text()), **values}
        except (OSError, ValueError) as e:
            raise KeyConfigurationError(f"LOYALTY_KEYS_FILE {path}: {e}") from None
    kek, blind = values.get("LOYALTY_KEK"), values.get("LOYALTY_BLIND_INDEX_KEY")
    if not kek and not blind and data_dir is not None:
        values = development_keys(data_dir)
        kek, blind = values["LOYALTY_KEK"], values["LOYALTY_BLIND_INDEX_KEY"]
    if not kek:
        raise KeyConfigurationError("LOYALTY_KEK is not configured")
    if not blind:
        raise KeyConfigurationError("LOYALTY_BLIND_INDEX_KEY is not configured")
    return KeyConfig(parse_keks(kek), _b64key(blind, "LOYALTY_BLIND_INDEX_KEY"))


def blind_check(blind_index_key: bytes) -> bytes:
    return hmac.new(blind_index_key, _BLIND_CHECK_MESSAGE, hashlib.sha256).digest()


# ------------------------------------------------------------------ data keys


_ERASED: Any = object()


class Keyring:
    """Data keys by subject: a bounded cache of unwrapped keys over the ``data_keys`` table."""

    def __init__(self, pool: Any, names: Names, provider: KeyProvider, *, capacity: int = 200_000) -> None:
        self.pool = pool
        self.provider = provider
        self.capacity = capacity
        self.table = names.q("data_keys")
        self.checks = names.q("key_checks")
        self._cache: OrderedDict[UUID, Any] = OrderedDict()  # subject -> AESGCM, or _ERASED
        self._new: dict[UUID, bytes] = {}  # generated here, not stored yet
        self.loads = 0  # queries made to load keys (tests and benchmarks watch it)

    @classmethod
    async def open(cls, pool: Any, names: Names, config: KeyConfig, **options: Any) -> Keyring:
        """Creates the tables if need be and checks the configured keys against the stored verifiers."""
        ring = cls(pool, names, config.provider, **options)
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(7417017)")
            await conn.execute(f"""CREATE TABLE IF NOT EXISTS {ring.table} (
                subject_id uuid PRIMARY KEY, kek_id text, wrapped bytea,
                created_at timestamptz NOT NULL DEFAULT now(), erased_at timestamptz)""")
            await conn.execute(f"""CREATE TABLE IF NOT EXISTS {ring.checks} (
                kind text PRIMARY KEY, kek_id text, verifier bytea NOT NULL)""")
            rows = {
                r[0]: (r[1], bytes(r[2])) for r in await conn.fetch(f"SELECT kind, kek_id, verifier FROM {ring.checks}")
            }
            if "kek" in rows:
                kek_id, wrapped = rows["kek"]
                config.provider.unwrap(kek_id, wrapped, _KEK_CHECK_AAD)  # raises KeyConfigurationError
            else:
                kek_id, wrapped = config.provider.wrap(secrets.token_bytes(32), _KEK_CHECK_AAD)
                await conn.execute(f"INSERT INTO {ring.checks} VALUES ('kek', $1, $2)", kek_id, wrapped)
            if "blind_index" in rows:
                if not hmac.compare_digest(rows["blind_index"][1], blind_check(config.blind_index_key)):
                    raise KeyConfigurationError("LOYALTY_BLIND_INDEX_KEY is not the key the stored identities use")
            else:
                await conn.execute(
                    f"INSERT INTO {ring.checks} VALUES ('blind_index', NULL, $1)", blind_check(config.blind_index_key)
                )
            for (kid,) in await conn.fetch(f"SELECT DISTINCT kek_id FROM {ring.table} WHERE wrapped IS NOT NULL"):
                if not config.provider.knows(kid):
                    raise KeyConfigurationError(f"KEK {kid!r} that wrapped stored data keys is not configured")
        return ring

    # --- synchronous: the mapper's view --------------------------------------------

    def for_write(self, subject: UUID) -> AESGCM:
        aead = self._cache.get(subject)
        if aead is _ERASED:
            raise SubjectErased(f"personal data of {subject} was erased")
        if aead is None:  # a new subject (or one not read lately: the commit finds out, DataKeyConflict)
            key = secrets.token_bytes(32)
            self._new[subject] = key
            aead = AESGCM(key)
            self._remember(subject, aead)
        else:
            self._cache.move_to_end(subject)
        return aead

    def for_read(self, subject: UUID) -> AESGCM | None:
        """The subject's key; None when erased."""
        aead = self._cache.get(subject)
        if aead is None:
            raise DataKeyNotLoaded(f"data key of {subject} not loaded")
        return None if aead is _ERASED else aead

    def is_erased(self, subject: UUID) -> bool:
        return self._cache.get(subject) is _ERASED

    def _remember(self, subject: UUID, value: Any) -> None:
        self._cache[subject] = value
        self._cache.move_to_end(subject)
        while len(self._cache) > self.capacity:
            old, _ = self._cache.popitem(last=False)
            if old in self._new:  # not stored yet: keep it
                self._cache[old] = _
                break

    # --- asynchronous: loading, storing, destroying --------------------------------

    async def load(self, subjects: Iterable[UUID]) -> None:
        """Loads the data keys of the subjects not cached (one query); a subject without a key row is an error
        only when something sealed under it is decoded."""
        missing = [s for s in set(subjects) if s not in self._cache]
        if not missing:
            return
        self.loads += 1
        rows = await self.pool.fetch(
            f"SELECT subject_id, kek_id, wrapped FROM {self.table} WHERE subject_id = ANY($1::uuid[])", missing
        )
        for subject_id, kek_id, wrapped in rows:
            subject = UUID(bytes=subject_id.bytes)
            if wrapped is None:
                self._remember(subject, _ERASED)
            else:
                self._remember(subject, AESGCM(self.provider.unwrap(kek_id, bytes(wrapped), subject.bytes)))

    async def store_new(self) -> None:
        """Stores (wrapped) the keys generated since the last call; a subject that had one already raises
        :class:`DataKeyConflict` after caching the stored key, so the commands run again under it."""
        if not self._new:
            return
        new, self._new = self._new, {}
        subjects, keks, wrapped = [], [], []
        for subject, key in new.items():
            kid, w = self.provider.wrap(key, subject.bytes)
            subjects.append(subject)
            keks.append(kid)
            wrapped.append(w)
        rows = await self.pool.fetch(
            f"""INSERT INTO {self.table} (subject_id, kek_id, wrapped)
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[])
                ON CONFLICT DO NOTHING RETURNING subject_id""",
            subjects,
            keks,
            wrapped,
        )
        stored = {UUID(bytes=r[0].bytes) for r in rows}
        conflicted = [s for s in subjects if s not in stored]
        if conflicted:
            for s in conflicted:
                self._cache.pop(s, None)
            await self.load(conflicted)
            raise DataKeyConflict(f"data keys of {len(conflicted)} subjects were stored by another writer")

    async def destroy(self, subject: UUID) -> bool:
        """Crypto-shredding: the subject's data key is gone for good. True if it was there."""
        row = await self.pool.fetchrow(
            f"""INSERT INTO {self.table} AS k (subject_id, erased_at) VALUES ($1, now())
                ON CONFLICT (subject_id) DO UPDATE SET wrapped = NULL, kek_id = NULL,
                    erased_at = coalesce(k.erased_at, now())
                RETURNING (xmax <> 0) AS existed""",
            subject,
        )
        self._new.pop(subject, None)
        self._remember(subject, _ERASED)
        return bool(row[0])

    def forget(self, subject: UUID) -> None:
        self._cache.pop(subject, None)

    def mark_erased(self, subject: UUID) -> None:
        self._new.pop(subject, None)
        self._remember(subject, _ERASED)


async def rotate(pool: Any, names: Names, provider: KeyProvider, *, batch: int = 1000) -> int:
    """Re-wraps every data key (and the KEK verifier) not wrapped by the current KEK. Events are not touched.

    Returns how many data keys were re-wrapped."""
    table, checks = names.q("data_keys"), names.q("key_checks")
    done = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"""SELECT subject_id, kek_id, wrapped FROM {table} WHERE wrapped IS NOT NULL AND kek_id <> $1
                    LIMIT $2 FOR UPDATE SKIP LOCKED""",
                provider.current_id,
                batch,
            )
            for subject_id, kek_id, wrapped in rows:
                subject = UUID(bytes=subject_id.bytes)
                kid, rewrapped = provider.wrap(provider.unwrap(kek_id, bytes(wrapped), subject.bytes), subject.bytes)
                await conn.execute(
                    f"UPDATE {table} SET kek_id = $2, wrapped = $3 WHERE subject_id = $1", subject, kid, rewrapped
                )
            done += len(rows)
        if len(rows) < batch:
            break
    async with pool.acquire() as conn:
        row = await conn.fetchrow(f"SELECT kek_id, verifier FROM {checks} WHERE kind = 'kek'")
        if row is not None and row[0] != provider.current_id:
            kid, wrapped = provider.wrap(provider.unwrap(row[0], bytes(row[1]), _KEK_CHECK_AAD), _KEK_CHECK_AAD)
            await conn.execute(f"UPDATE {checks} SET kek_id = $1, verifier = $2 WHERE kind = 'kek'", kid, wrapped)
    return done


# ------------------------------------------------------------------ sealing fields


class Sealed:
    """A personal value sealed under its subject's data key (what the stored event holds).

    A plain slotted class, not a frozen dataclass: one is made per personal field written, and a frozen
    dataclass's ``__init__`` (``object.__setattr__`` per field) cost five times as much."""

    __slots__ = ("blob", "subject")

    def __init__(self, subject: UUID, blob: bytes) -> None:
        self.subject = subject
        self.blob = blob

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sealed) and (self.subject, self.blob) == (other.subject, other.blob)

    def __hash__(self) -> int:
        return hash((self.subject, self.blob))

    def __repr__(self) -> str:
        return f"Sealed({self.subject}, {len(self.blob)} bytes)"


class SealedAsText(Transcoding):
    """``"<subject hex>.<base64 nonce|ciphertext>"``; decoding opens it with the keyring (None if erased)."""

    type = Sealed
    name = SEALED_TAG

    def __init__(self, keyring: Keyring, inner: Callable[[bytes], Any]) -> None:
        self.keyring = keyring
        self.inner = inner
        self._subjects: dict[str, UUID] = {}  # hex -> UUID: parsing one cost more than decrypting the value

    def encode(self, obj: Sealed) -> str:
        return f"{obj.subject.hex}.{binascii.b2a_base64(obj.blob, newline=False).decode()}"

    def decode(self, data: str) -> Any:
        subject_hex, _, blob = data.partition(".")
        subject = self._subjects.get(subject_hex)
        if subject is None:
            if len(self._subjects) >= _SUBJECT_CACHE:
                self._subjects.clear()
            subject = self._subjects[subject_hex] = UUID(hex=subject_hex)
        aead = self.keyring.for_read(subject)
        if aead is None:
            return None  # erased
        raw = binascii.a2b_base64(blob)
        return self.inner(aead.decrypt(raw[:12], raw[12:], subject.bytes))


class SealedUnopened(Transcoding):
    """Decodes a sealed value as None without opening it: for readers that keep no personal data (the read
    models), which then need no data key loaded and no decryption per field."""

    type = Sealed
    name = SEALED_TAG

    def encode(self, obj: Sealed) -> str:
        raise TypeError("a reader that does not open personal data writes none")

    def decode(self, data: str) -> Any:
        return None


def _is_sealed(value: Any) -> bool:
    return type(value) is Sealed or (type(value) is dict and value.get("_type_") == SEALED_TAG)


def _originator(state: Mapping[str, Any], originator_id: UUID) -> UUID:
    return originator_id


def _field(name: str) -> Callable[[Mapping[str, Any], UUID], UUID]:
    return lambda state, originator_id: state[name]


@dataclass(frozen=True)
class Policy:
    subject: Callable[[Mapping[str, Any], UUID], UUID]
    fields: tuple[str, ...]


def _personal_fields() -> dict[str, tuple[Policy, Policy]]:
    """By event topic: the event's personal fields and whose they are; and the same for its aggregate's snapshot."""
    from domain.guide import Guide
    from domain.member import Member
    from domain.order import Order

    member = Policy(_originator, ("openid", "unionid", "phone", "nickname", "birthday"))
    order = Policy(_field("member_id"), ("customer_location", "original_customer_location"))
    guide = Policy(_originator, ("wecom_userid", "name"))
    return {
        get_topic(Member.Registered): (Policy(_originator, ("openid", "unionid", "phone")), member),
        get_topic(Member.ProfileUpdated): (Policy(_originator, ("phone", "unionid", "nickname", "birthday")), member),
        get_topic(Order.Placed): (order, order),
        get_topic(Guide.Hired): (guide, guide),
        get_topic(Member): (member, member),
        get_topic(Order): (order, order),
        get_topic(Guide): (guide, guide),
    }


SNAPSHOT_TOPIC = get_topic(Snapshot)


class PersonalDataMapper(Mapper):
    """The Mapper, sealing personal fields under their subject's data key (see the module docstring)."""

    def __init__(self, transcoder: Any, keyring: Keyring, compressor: Any = None, cipher: Any = None) -> None:
        super().__init__(transcoder, compressor=compressor, cipher=cipher)
        self.keyring = keyring
        self.policies = _personal_fields()
        self._by_class: dict[type, Policy | None] = {}
        self._unopened: Mapper | None = None
        transcoder.register(SealedAsText(keyring, transcoder.decode))

    def _sealed_state(self, policy: Policy, state: dict[str, Any], originator_id: UUID) -> dict[str, Any]:
        """A copy of ``state`` with the policy's fields sealed: one key look-up, one AAD and one call for random
        nonces per event, not per field; each sealed value is written straight as the tagged JSON object
        :class:`SealedAsText` would make of a :class:`Sealed` (which the transcoder then passes through as
        plain JSON), saving an object, a transcoding look-up and a walk per field."""
        subject = policy.subject(state, originator_id)
        sealed = dict(state)
        names = [n for n in policy.fields if (v := sealed.get(n)) is not None and not _is_sealed(v)]
        if not names:
            return sealed
        if self.keyring.is_erased(subject):  # e.g. the snapshot of an order decoded before the erasure
            for name in names:
                sealed[name] = None
            return sealed
        aead, aad, prefix = self.keyring.for_write(subject), subject.bytes, subject.hex + "."
        nonces = os.urandom(12 * len(names))
        encode = self.transcoder.encode
        for i, name in enumerate(names):
            nonce = nonces[12 * i : 12 * i + 12]
            blob = binascii.b2a_base64(nonce + aead.encrypt(nonce, encode(sealed[name]), aad), newline=False)
            sealed[name] = {"_type_": SEALED_TAG, "_data_": prefix + blob.decode()}
        return sealed

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        cls = type(domain_event)
        if cls is Snapshot or issubclass(cls, Snapshot):
            entry = self.policies.get(domain_event.topic)
            policy = entry[1] if entry else None
            if policy is None:
                return super().to_stored_event(domain_event)
            state = self._sealed_state(policy, domain_event.state, domain_event.originator_id)
            return super().to_stored_event(_with_state(domain_event, state))
        if cls not in self._by_class:
            entry = self.policies.get(get_topic(cls))
            self._by_class[cls] = entry[0] if entry else None
        policy = self._by_class[cls]
        if policy is None:
            return super().to_stored_event(domain_event)
        copy = object.__new__(cls)
        object.__setattr__(copy, "__dict__", self._sealed_state(policy, vars(domain_event), domain_event.originator_id))
        return super().to_stored_event(copy)

    def without_personal_data(self) -> Mapper:
        """A mapper of the same log that decodes every personal field as None, opening nothing (read models)."""
        if self._unopened is None:
            self._unopened = Mapper(
                cast(OrjsonTranscoder, self.transcoder).replacing(SealedUnopened()),
                compressor=self.compressor,
                cipher=self.cipher,
            )
        return self._unopened

    def subjects_in(self, state: bytes) -> set[UUID]:
        """The subjects whose keys decoding ``state`` needs."""
        if self.cipher is not None:
            state = self.cipher.decrypt(state)
        if self.compressor is not None:
            state = self.compressor.decompress(state)
        return {UUID(hex=m.decode()) for m in _SEALED_SUBJECTS.findall(state)}


def _with_state(snapshot: Any, state: dict[str, Any]) -> Any:
    copy = object.__new__(type(snapshot))
    object.__setattr__(copy, "__dict__", {**vars(snapshot), "state": state})
    return copy


# ------------------------------------------------------------------ the request log


class ResponseSealer:
    """The request log's responses sealed (AES-GCM) under the request log's own data key."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def seal(self, response: bytes) -> bytes:
        aead = self.keyring.for_write(REQUEST_LOG_SUBJECT)
        nonce = os.urandom(12)
        return b"\x01" + nonce + aead.encrypt(nonce, response, REQUEST_LOG_SUBJECT.bytes)

    def open(self, stored: bytes) -> bytes:
        if not stored.startswith(b"\x01"):
            return stored  # written before responses were sealed
        aead = self.keyring.for_read(REQUEST_LOG_SUBJECT)
        if aead is None:
            return b""
        return aead.decrypt(stored[1:13], stored[13:], REQUEST_LOG_SUBJECT.bytes)


# ------------------------------------------------------------------ the event store, keys loaded


if TYPE_CHECKING:  # a stand-in for the EventStore it wraps: typed as one, forwarding what it does not override
    from infrastructure.event_store import EventStore

    _WrappedStore = EventStore
else:
    _WrappedStore = object


def for_read_models(store: Any, mapper: Mapper) -> tuple[Any, Mapper]:
    """The store and mapper the read models read the log through. They keep no personal data, so with personal
    data sealed they read the plain store (no data keys loaded per batch) and decode personal fields as None (no
    decryption per field); otherwise they are the ones given."""
    if isinstance(store, PrivateEventStore) and isinstance(mapper, PersonalDataMapper):
        return store.inner, mapper.without_personal_data()
    return store, mapper


class PrivateEventStore(_WrappedStore):
    """The event store with data keys loaded for what it returns and stored before what it commits.

    Everything else is the wrapped store's (``__getattr__``): pool, dsn, names, close, transactions.
    """

    blind_index_key: bytes  # set by open_private

    def __init__(self, store: Any, keyring: Keyring, mapper: PersonalDataMapper) -> None:
        self.inner = store
        self.keyring = keyring
        self.mapper = mapper
        self.responses = ResponseSealer(keyring)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def _prepared(self, stored: Sequence[Any]) -> None:
        subjects: set[UUID] = set()
        for s in stored:
            subjects |= self.mapper.subjects_in(s.state)
        if subjects:
            await self.keyring.load(subjects)

    async def prepare_states(self, states: Iterable[bytes]) -> None:
        """Loads the keys raw stored states need (readers of raw rows: the bulk rebuild)."""
        subjects: set[UUID] = set()
        for state in states:
            subjects |= self.mapper.subjects_in(state)
        if subjects:
            await self.keyring.load(subjects)

    async def select_events(self, originator_id: UUID, **kwargs: Any) -> list[StoredEvent]:
        events = await self.inner.select_events(originator_id, **kwargs)
        await self._prepared(events)
        return events

    async def latest_snapshot(self, originator_id: UUID, lte: int | None = None) -> StoredEvent | None:
        snapshot = await self.inner.latest_snapshot(originator_id, lte=lte)
        if snapshot is not None:
            await self._prepared([snapshot])
        return snapshot

    async def select_notifications(self, *args: Any, **kwargs: Any) -> list[Any]:
        notifications = await self.inner.select_notifications(*args, **kwargs)
        await self._prepared(notifications)
        return notifications

    async def subscribe(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async for n in self.inner.subscribe(*args, **kwargs):
            await self._prepared([n])
            yield n

    async def commit(self, writes: Sequence[Write]) -> CommitOutcome:
        sealed = []
        for w in writes:
            if w.request is not None:
                r = w.request
                w = Write(
                    w.events,
                    w.snapshots,
                    LoggedRequest(r.request_id, r.method, r.payload_hash, self.responses.seal(r.response)),
                    w.expected,
                )
            sealed.append(w)
        await self.keyring.store_new()
        return await self.inner.commit(sealed)

    async def logged(self, request_id: str) -> LoggedRequest | None:
        row = await self.inner.logged(request_id)
        if row is None:
            return None
        await self.keyring.load([REQUEST_LOG_SUBJECT])
        return LoggedRequest(row.request_id, row.method, row.payload_hash, self.responses.open(row.response))

    # --- erasures made by other processes -------------------------------------------

    def watch_erasures(self, on_erased: Callable[[UUID], None]) -> None:
        """Follow the log (from now on) for erasures, wherever recorded: the subject's key is treated as destroyed
        here at once (its destruction follows the event by moments) and ``on_erased`` runs (the server drops the
        aggregates it decoded with the key). So an erasure through one server process holds in every other."""
        from domain.guide import Guide
        from domain.member import Member

        async def follow() -> None:
            topics = [get_topic(Member.PersonalDataErased), get_topic(Guide.PersonalDataErased)]
            position = await self.inner.max_notification_id()

            def scanned(head: int) -> None:
                nonlocal position
                position = head

            while True:
                try:
                    async for n in self.inner.subscribe(gt=position, topics=topics, progress=scanned):
                        position = n.id
                        self.keyring.mark_erased(n.originator_id)
                        on_erased(n.originator_id)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    await asyncio.sleep(1.0)

        self._watcher = asyncio.get_running_loop().create_task(follow(), name="erasure-watcher")

    async def close(self, *args: Any, **kwargs: Any) -> None:
        watcher = getattr(self, "_watcher", None)
        if watcher is not None:
            await stop_task(watcher)
        await self.inner.close(*args, **kwargs)


async def open_private(store: Any, env: Mapping[str, str], data_dir: Path | None) -> PrivateEventStore:
    """The store with personal data sealed, keys checked (:class:`KeyConfigurationError` if wrong); the mapper
    is ``.mapper``. Every process that reads or writes events opens the store this way."""
    from infrastructure.mapper import build_mapper

    config = key_config(env, data_dir)
    keyring = await Keyring.open(store.pool, store.names, config)
    private = PrivateEventStore(store, keyring, build_mapper(env, keyring=keyring))
    private.blind_index_key = config.blind_index_key
    await keyring.load([REQUEST_LOG_SUBJECT])  # written by the first command: not made anew by each process
    return private


REQUEST_LOG_PURGE_LOCK = 7417018
"""Advisory lock class of the request-log purge (two-key form; the key is the hash of the brand's table)."""


async def purge_request_log(pool: Any, names: Names, older_than_days: int, *, batch: int = 5_000) -> int | None:
    """Deletes request-log rows recorded more than ``older_than_days`` days ago (their responses hold personal
    data), in batches of ``batch`` rows, each its own statement (no long transaction, no long row locks).

    Rows younger than the retention are never touched: a request id stays answerable for at least that long,
    and a retry after it is executed anew (README, *Personal data*). One process at a time per brand: the
    purge holds an advisory lock on the brand's table; when another process holds it (purging the same rows),
    this one returns None at once. Otherwise returns how many rows went."""
    if older_than_days < 1:
        raise ValueError("older_than_days must be at least 1")
    table = names.q("request_log")
    deleted = 0
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1, hashtext($2))", REQUEST_LOG_PURGE_LOCK, table):
            return None
        try:
            while True:
                status = await conn.execute(
                    f"""DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table}
                            WHERE recorded_at < now() - make_interval(days => $1) LIMIT $2))""",
                    older_than_days,
                    batch,
                )
                n = int(status.split()[-1])
                deleted += n
                if n < batch:
                    return deleted
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2))", REQUEST_LOG_PURGE_LOCK, table)


async def _command(argv: Sequence[str] | None) -> int:
    """``python -m infrastructure.privacy rotate|purge-request-log --brand B``: one brand's keys and request log
    (each brand's schema has its own ``data_keys`` and ``request_log``)."""
    import argparse
    import sys

    from infrastructure.projection_runner import open_store_from_env

    parser = argparse.ArgumentParser(
        prog="python -m infrastructure.privacy", description="Key management of personal data, one brand at a time."
    )
    brand = argparse.ArgumentParser(add_help=False)
    brand.add_argument(
        "--brand",
        default=None,
        help="the brand (tenant); without it, the configured POSTGRES_SCHEMA of a database from before tenants",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("rotate", parents=[brand], help="re-wrap every data key under the current (first) LOYALTY_KEK")
    purge = sub.add_parser("purge-request-log", parents=[brand], help="delete request-log rows older than N days")
    purge.add_argument("--older-than-days", type=int, required=True)
    args = parser.parse_args(argv)
    private, release = await open_store_from_env(args.brand)  # the keys are checked first
    try:
        if args.command == "rotate":
            print(
                f"re-wrapped {await rotate(private.pool, private.names, private.keyring.provider)} data keys",
                file=sys.stderr,
            )
        else:
            purged = await purge_request_log(private.pool, private.names, args.older_than_days)
            print(
                "another process is purging this request log now"
                if purged is None
                else f"purged {purged} request-log rows",
                file=sys.stderr,
            )
    finally:
        await private.close()
        release()
    return 0


if __name__ == "__main__":
    import asyncio

    raise SystemExit(asyncio.run(_command(None)))

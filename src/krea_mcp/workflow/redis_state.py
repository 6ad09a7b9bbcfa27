"""The deployment's shared state in Redis (``KREA_REDIS_URL``; Redis >= 7 or Valkey), for many workers and replicas.

Every key is under ``krea-mcp:<api>:`` (``<api>``: a hash of KREA_BASE_URL, so an emulator and the real API never
mix) and has a TTL; callers appear only as their caller key (a hash of their token), never as a token.

============================  ==================================================================  ============
key                           what                                                                TTL
============================  ==================================================================  ============
``spend:<caller>``            hash ``jobs``, ``usd``: reserved atomically by a Lua script         30 days idle
``job:<id>``                  a job record (JSON: model, prompt, caller, kind, note, URLs, files) 7 days
``jobs-of:<caller>``          sorted set of the caller's job ids by time (newest 500)             7 days
``link:<sha256(uri)>``        the job a result URL or saved file belongs to                       7 days
``creates:<caller>``          hash create-id -> "started outcome": creates per token (in flight)  10 min
``upload:<caller>:<sha256>``  the URL of an image this caller already uploaded                    6 hours
``durations:<model>``         list of learned run times "seconds at" (newest 50)                  30 days
``poll:<caller>:<id>``        which worker polls the job (a lease renewed at every poll)          seconds
``seen:<caller>:<id>``        the job as its poller last saw it (JSON)                            2 minutes
``webhook-token``             the webhook path's secret, one for every worker                     none
============================  ==================================================================  ============

Channels: ``jobs`` carries each poll's result to every worker's waiters; ``wake`` a webhook's job id.

Failure behaviour: an unreachable Redis at start refuses to start (``check``). While running, a spend reservation
that cannot reach Redis is refused (fail closed: no job the guard cannot count); a poll lease that cannot be taken
means this worker polls on its own; records, uploads and durations fall back to this process. Each operation tries
Redis again, so everything is shared again as soon as it is back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio

from krea_mcp.errors import ConfigError, SpendLimitError
from krea_mcp.job import Job, JobRecord
from krea_mcp.workflow.shared import CREATE_MEMORY_S, IN_FLIGHT, CreateTicket, LocalState, Reservation, _alone
from krea_mcp.workflow.spend import estimate_usd, jobs_refusal, usd_refusal

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from krea_mcp.catalog.models import ModelInfo
    from krea_mcp.workflow.durations import DurationBook

log = logging.getLogger(__name__)

SPEND_TTL_S = 30 * 86_400
RECORD_TTL_S = 7 * 86_400
RECORDS_PER_CALLER = 500
CREATES_TTL_S = 600
UPLOAD_TTL_S = 6 * 3600
DURATIONS_KEPT = 50
DURATIONS_TTL_S = 30 * 86_400
SEEN_TTL_S = 120
#: A poller's lease outlives its next planned poll by this much: if its worker dies, another takes over this long
#: after the poll that did not happen.
LEASE_GRACE_S = 1.5
#: Seconds one Redis operation may take, once it has a connection, before it counts as Redis being unreachable (on a
#: LAN one takes ~1 ms; a worker's event loop under a burst of calls may add a little).
OP_TIMEOUT_S = 2.0
#: Connections per worker (commands; the channel listener has its own). A burst of calls waits its turn for one:
#: waiting is not an outage, so no timeout runs until an operation has its connection.
MAX_CONNECTIONS = 128
#: After a failed operation, optional ones (records, polling, uploads) skip Redis for this long instead of each
#: waiting out its timeout; spend reservations and create registrations are refused at once.
BREAKER_S = 1.0

#: Reserve a job and its price atomically: KEYS[1] spend hash, KEYS[2] reservations; ARGV price, max jobs, max usd
#: (-1: none), ttl, reservation id. The reservation is kept until committed or released (exactly once).
_RESERVE = """
local jobs = tonumber(redis.call('HGET', KEYS[1], 'jobs') or '0')
local usd = tonumber(redis.call('HGET', KEYS[1], 'usd') or '0')
local price = tonumber(ARGV[1])
local max_jobs = tonumber(ARGV[2])
local max_usd = tonumber(ARGV[3])
if max_jobs >= 0 and jobs + 1 > max_jobs then
  return {'jobs', tostring(jobs), tostring(usd)}
end
if max_usd >= 0 and usd + price > max_usd + 1e-9 then
  return {'usd', tostring(jobs), tostring(usd)}
end
redis.call('HINCRBY', KEYS[1], 'jobs', 1)
redis.call('HINCRBYFLOAT', KEYS[1], 'usd', price)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
redis.call('HSET', KEYS[2], ARGV[5], ARGV[1])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
return {'ok', tostring(jobs + 1), tostring(usd + price)}
"""
#: Give a reservation back, once: KEYS[1] spend hash, KEYS[2] reservations; ARGV reservation id.
_RELEASE = """
local price = redis.call('HGET', KEYS[2], ARGV[1])
if price == false then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'jobs', -1)
redis.call('HINCRBYFLOAT', KEYS[1], 'usd', -tonumber(price))
return 1
"""
#: Take or renew the poll lease: KEYS[1] lease; ARGV owner, milliseconds. True when the owner holds it now.
_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
  return 1
end
return 0
"""
#: Drop the lease if this owner holds it.
_DROP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def prefix_for(api: str, account: str = "") -> str:
    """Where one deployment's keys live: by API (an emulator's and the real API's never mix) and by the server's own
    Krea token (``account``: a hash of it; "" in bearer-passthrough mode, where callers are keyed by their own)."""
    return f"krea-mcp:{hashlib.sha256(f'{api} {account}'.encode()).hexdigest()[:12]}:"


def account_of(token: str | None) -> str:
    """A hash of the server's own Krea token, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:16] if token else ""


def shown(url: str) -> str:
    """Redis's address for messages: host and port only (a URL may hold a password)."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
    except ValueError:
        return "(unreadable KREA_REDIS_URL)"


def _client(url: str) -> Redis:
    try:
        from redis.asyncio import BlockingConnectionPool, Redis
    except ImportError:  # pragma: no cover - redis is a dependency
        raise ConfigError("KREA_REDIS_URL needs the redis package: pip install 'redis>=5,<8'.") from None
    try:
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=None,  # RedisState._op hands out connections in turn
            socket_timeout=OP_TIMEOUT_S,
            socket_connect_timeout=OP_TIMEOUT_S,
            decode_responses=True,
        )
    except ValueError:
        raise ConfigError(_NOT_A_URL) from None
    return Redis(connection_pool=pool)


#: Never repeats the URL or the parser's words, which may hold part of a password.
_NOT_A_URL = (
    "KREA_REDIS_URL is not a valid Redis URL: use redis://[user:password@]host:port/db (or rediss://), with special "
    "characters in the password percent-encoded."
)


def check(url: str, *, timeout_s: float = 3.0) -> None:
    """Refuse to start when Redis cannot be reached: a deployment that asked for shared limits must not silently run
    without them. Also checks the server is Redis >= 7 (or Valkey)."""
    try:
        import redis
    except ImportError:  # pragma: no cover - redis is a dependency
        raise ConfigError("KREA_REDIS_URL needs the redis package: pip install 'redis>=5,<8'.") from None
    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    except ValueError:
        raise ConfigError(_NOT_A_URL) from None
    try:
        info: dict[str, Any] = client.info("server")  # type: ignore[assignment]  # the sync client's answer
    except redis.RedisError as exc:
        raise ConfigError(
            f"KREA_REDIS_URL: cannot reach Redis at {shown(url)} ({_reason(exc)}). This deployment asked for shared "
            "state (spend limits, job records, polling) and will not run without it: start Redis, fix the URL, or "
            "unset KREA_REDIS_URL to keep the state in this one process."
        ) from None
    finally:
        client.close()
    version = str(info.get("redis_version", "0"))
    if int(version.split(".")[0] or 0) < 7 and "valkey_version" not in info:
        raise ConfigError(f"KREA_REDIS_URL: Redis at {shown(url)} is version {version}; krea-mcp needs 7 or newer.")


def shared_secret(url: str, name: str, make: str) -> str:
    """A secret every worker uses (the webhook path's token): the first worker's ``make`` wins."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=OP_TIMEOUT_S, socket_connect_timeout=OP_TIMEOUT_S)
    except ValueError:
        raise ConfigError(_NOT_A_URL) from None
    try:
        client.set(name, make, nx=True)
        value = client.get(name)
    except redis.RedisError as exc:
        raise ConfigError(f"KREA_REDIS_URL: Redis at {shown(url)} failed while starting ({_reason(exc)}).") from None
    finally:
        client.close()
    return value.decode() if isinstance(value, bytes) else str(value)


def _reason(exc: BaseException) -> str:
    text = str(exc).split("\n", 1)[0]
    return text[:200] or type(exc).__name__


class RedisState(LocalState):
    """The deployment's state in Redis. What Redis cannot do at a moment falls back to this process (the parent
    class), except spend reservations, which are refused."""

    scope = "this deployment (every worker sharing KREA_REDIS_URL)"
    shared = True

    def __init__(
        self, url: str, *, api: str, account: str = "", max_jobs: int | None = None, max_usd: float | None = None
    ) -> None:
        super().__init__(max_jobs, max_usd)
        self.url = url
        self.prefix = prefix_for(api, account)
        self.owner = secrets.token_hex(8)  # this worker, as a poll lease holder
        self._redis: Any = _client(url)  # redis-py types its asyncio client as sync-or-async: checked by tests
        self._reserve = self._redis.register_script(_RESERVE)
        self._release = self._redis.register_script(_RELEASE)
        self._claim = self._redis.register_script(_CLAIM)
        self._drop = self._redis.register_script(_DROP)
        self._down_since: float | None = None
        self._failed_at = float("-inf")
        self._turns = anyio.CapacityLimiter(MAX_CONNECTIONS)
        self._listening = False

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    @asynccontextmanager
    async def _op(self) -> AsyncIterator[None]:
        """One Redis operation: its turn for a connection (as long as the burst takes), then OP_TIMEOUT_S."""
        async with self._turns:
            with anyio.fail_after(OP_TIMEOUT_S):
                yield

    # --- health ---------------------------------------------------------------------------------------------------

    @property
    def tripped(self) -> bool:
        """An operation failed within ``BREAKER_S``: skip Redis for now rather than wait out another timeout."""
        return time.monotonic() - self._failed_at < BREAKER_S

    def _failed(self, what: str, exc: BaseException) -> None:
        self._failed_at = time.monotonic()
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("Redis at %s unreachable while %s (%s): this worker falls back", shown(self.url), what, exc)

    def _ok(self) -> None:
        if self._down_since is not None:
            log.warning("Redis at %s is back after %.1f s", shown(self.url), time.monotonic() - self._down_since)
            self._down_since = None

    # --- spend ----------------------------------------------------------------------------------------------------

    async def reserve(self, caller: str, info: ModelInfo, body: Mapping[str, Any] | None) -> Reservation:
        reservation = Reservation(caller, estimate_usd(info, body))
        if not self.limited:
            return reservation
        max_jobs, max_usd = self.spend.max_jobs, self.spend.max_usd
        limits = "the spend limits (KREA_MAX_JOBS / KREA_MAX_SPEND_USD) cannot count"
        if self.tripped:  # failed a moment ago: refused at once (the breaker is not re-armed by this)
            raise SpendLimitError(self._unreachable(limits))
        try:
            async with self._op():
                verdict, jobs, usd = await self._reserve(
                    keys=self._spend_keys(caller),
                    args=[
                        repr(reservation.price),
                        -1 if max_jobs is None else max_jobs,
                        -1 if max_usd is None else max_usd,
                        SPEND_TTL_S,
                        reservation.ident,
                    ],
                )
        except BaseException as exc:  # fail closed: a job the guard cannot count is not created
            # The script may have run before its answer was lost (a timeout, the call cut): take it back, once.
            with anyio.CancelScope(shield=True):
                await self.release(reservation)
            if not isinstance(exc, Exception):
                raise
            self._failed("reserving spend", exc)
            raise SpendLimitError(self._unreachable(limits)) from None
        self._ok()
        if verdict == "jobs":
            raise SpendLimitError(jobs_refusal(int(jobs), max_jobs or 0, self.scope))
        if verdict == "usd":
            raise SpendLimitError(usd_refusal(info, reservation.price, float(usd), max_usd or 0.0, self.scope))
        return reservation

    def _unreachable(self, what: str) -> str:
        return (
            f"Not submitted: the deployment's shared state (Redis at {shown(self.url)}) cannot be reached, so {what} "
            "this job. Nothing was charged. Try again in a moment; if it persists, the operator should check Redis."
        )

    def _spend_keys(self, caller: str) -> list[str]:
        return [self.key("spend", caller), self.key("spend-res", caller)]

    async def release(self, reservation: Reservation) -> None:
        """Give the slot back, exactly once (the reservation's id is taken out with it). If Redis cannot be reached
        the slot stays counted: the safe side."""
        if not self.limited or not reservation.ident:
            return
        ident, reservation.ident = reservation.ident, ""
        try:
            async with self._op():
                await self._release(keys=self._spend_keys(reservation.caller), args=[ident])
        except Exception as exc:
            self._failed("releasing spend", exc)

    async def commit(self, reservation: Reservation) -> None:
        """The job exists: its slot stays counted, and its reservation id is forgotten."""
        if not self.limited or not reservation.ident:
            return
        ident, reservation.ident = reservation.ident, ""
        try:
            async with self._op():
                await self._redis.hdel(self.key("spend-res", reservation.caller), ident)
        except Exception as exc:  # only the id lingers, until its key's TTL
            self._failed("committing spend", exc)

    # --- job records ----------------------------------------------------------------------------------------------

    async def save_record(self, record: JobRecord) -> bool:
        await super().save_record(record)  # this worker keeps it either way (and serves it if Redis is down)
        index = self.key("jobs-of", record.caller)
        try:
            async with self._op(), self._redis.pipeline(transaction=False) as pipe:
                pipe.set(self.key("job", record.job_id), json.dumps(record.to_json()), ex=RECORD_TTL_S)
                pipe.zadd(index, {record.job_id: record.recorded_at.timestamp()})
                pipe.zremrangebyrank(index, 0, -RECORDS_PER_CALLER - 1)
                pipe.expire(index, RECORD_TTL_S)
                for uri in record.links():
                    pipe.set(self.key("link", _digest(uri)), record.job_id, ex=RECORD_TTL_S)
                await pipe.execute()
            self._ok()
            return True
        except Exception as exc:
            self._failed("saving a job record", exc)
            return False

    async def record(self, job_id: str) -> JobRecord | None:
        local = await super().record(job_id)
        if local is not None or self.tripped:
            return local
        try:
            async with self._op():
                raw = await self._redis.get(self.key("job", job_id))
            self._ok()
        except Exception as exc:
            self._failed("reading a job record", exc)
            return None
        return _parsed(raw)

    async def records_of(self, caller: str, limit: int) -> list[JobRecord]:
        if self.tripped:
            return await super().records_of(caller, limit)
        try:
            async with self._op():
                ids = await self._redis.zrevrange(self.key("jobs-of", caller), 0, max(limit, 1) - 1)
                raws = await self._redis.mget([self.key("job", i) for i in ids]) if ids else []
            self._ok()
        except Exception as exc:
            self._failed("listing job records", exc)
            return await super().records_of(caller, limit)
        found = [r for r in (_parsed(raw) for raw in raws) if r is not None and r.caller == caller]
        return found[:limit]

    async def known(self, job_ids: Iterable[str]) -> set[str]:
        ids = list(job_ids)
        mine = await super().known(ids)
        rest = [i for i in ids if i not in mine]
        if not rest or self.tripped:
            return mine
        try:
            async with self._op(), self._redis.pipeline(transaction=False) as pipe:
                for job_id in rest:
                    pipe.exists(self.key("job", job_id))
                found = await pipe.execute()
            self._ok()
        except Exception as exc:
            self._failed("checking job records", exc)
            return mine
        return mine | {job_id for job_id, n in zip(rest, found, strict=True) if n}

    async def job_of_link(self, uri: str) -> str | None:
        local = await super().job_of_link(uri)
        if local is not None or self.tripped:
            return local
        try:
            async with self._op():
                value = await self._redis.get(self.key("link", _digest(uri)))
            self._ok()
        except Exception as exc:
            self._failed("looking up a result link", exc)
            return None
        return str(value) if value else None

    # --- creates in flight ----------------------------------------------------------------------------------------

    async def create_started(self, caller: str) -> CreateTicket:
        """Register the create for every worker, or refuse it: a job the other workers cannot know of could be taken
        for theirs when one of their answers is lost."""
        ticket = await super().create_started(caller)
        key = self.key("creates", caller)
        refusal = self._unreachable("the other workers could not be told of")
        if self.tripped:
            await super().create_ended(ticket, "0")
            raise SpendLimitError(refusal)
        try:
            async with self._op():
                raw = await self._redis.hgetall(key)
                stale = [i for i, v in raw.items() if ticket.started - _started(v) > CREATE_MEMORY_S]
                async with self._redis.pipeline(transaction=False) as pipe:
                    if stale:
                        pipe.hdel(key, *stale)
                    pipe.hset(key, ticket.ident, f"{ticket.started} {IN_FLIGHT}")
                    pipe.expire(key, CREATES_TTL_S)
                    await pipe.execute()
            self._ok()
        except Exception as exc:
            self._failed("registering a create", exc)
            await super().create_ended(ticket, "0")
            raise SpendLimitError(refusal) from None
        return ticket

    async def create_ended(self, ticket: CreateTicket, outcome: str) -> None:
        await super().create_ended(ticket, outcome)
        try:
            async with self._op():
                value = f"{ticket.started} {outcome} {time.time()}"
                await self._redis.hset(self.key("creates", ticket.caller), ticket.ident, value)
        except Exception as exc:
            self._failed("ending a create", exc)

    async def alone(self, ticket: CreateTicket) -> bool:
        try:
            async with self._op():
                raw = await self._redis.hgetall(self.key("creates", ticket.caller))
        except Exception as exc:  # cannot tell: not alone (the safe answer)
            self._failed("reading creates in flight", exc)
            return False
        creates: dict[str, tuple[float, str, float | None]] = {}
        for ident, value in raw.items():
            parts = str(value).split()
            try:
                ended = float(parts[2]) if len(parts) > 2 else None
                creates[ident] = (float(parts[0]), parts[1] if len(parts) > 1 else IN_FLIGHT, ended)
            except (ValueError, IndexError):
                return False  # unreadable: cannot tell, so not alone
        return _alone(ticket, creates)

    # --- uploads and durations ------------------------------------------------------------------------------------

    async def upload(self, caller: str, digest: str) -> str | None:
        local = await super().upload(caller, digest)
        if local is not None or self.tripped:
            return local
        try:
            async with self._op():
                value = await self._redis.get(self.key("upload", caller, digest))
        except Exception as exc:
            self._failed("looking up an upload", exc)
            return None
        return str(value) if value else None

    async def remember_upload(self, caller: str, digest: str, url: str) -> None:
        await super().remember_upload(caller, digest, url)
        try:
            async with self._op():
                await self._redis.set(self.key("upload", caller, digest), url, ex=UPLOAD_TTL_S)
        except Exception as exc:
            self._failed("remembering an upload", exc)

    async def share_durations(self, book: DurationBook, model: str | None) -> None:
        """Push the run times this worker learned, then take ``model``'s as the deployment knows them."""
        if self.tripped:
            return
        fresh = book.take_unshared()
        try:
            async with self._op(), self._redis.pipeline(transaction=False) as pipe:
                for name, sample in fresh:
                    key = self.key("durations", name)
                    pipe.lpush(key, f"{sample.seconds} {sample.at}")
                    pipe.ltrim(key, 0, DURATIONS_KEPT - 1)
                    pipe.expire(key, DURATIONS_TTL_S)
                if model:
                    pipe.lrange(self.key("durations", model), 0, DURATIONS_KEPT - 1)
                answers = await pipe.execute()
        except Exception as exc:
            self._failed("sharing learned durations", exc)
            book.return_unshared(fresh)
            return
        if model and answers:
            pairs = []
            for item in answers[-1] or []:
                seconds, _, at = str(item).partition(" ")
                try:
                    pairs.append((float(seconds), float(at)))
                except ValueError:
                    continue
            book.merge_shared(model, pairs)

    # --- polling --------------------------------------------------------------------------------------------------

    async def claim_poll(self, key: str, hold_s: float) -> bool:
        if self.tripped:
            return True
        try:
            async with self._op():
                held = await self._claim(
                    keys=[self.key("poll", key)], args=[self.owner, int((hold_s + LEASE_GRACE_S) * 1000)]
                )
            self._ok()
        except Exception as exc:  # poll on our own: a wait must not depend on Redis
            self._failed("claiming a poll", exc)
            return True
        return bool(held)

    async def drop_poll(self, key: str) -> None:
        try:
            async with self._op():
                await self._drop(keys=[self.key("poll", key)], args=[self.owner])
        except Exception as exc:
            self._failed("dropping a poll", exc)

    async def publish(self, key: str, job: Job) -> None:
        if self.tripped:
            return
        data = job.model_dump_json()
        try:
            async with self._op(), self._redis.pipeline(transaction=False) as pipe:
                pipe.set(self.key("seen", key), data, ex=SEEN_TTL_S)
                pipe.publish(self.key("jobs"), json.dumps({"key": key, "job": data, "from": self.owner}))
                await pipe.execute()
        except Exception as exc:
            self._failed("publishing a job's state", exc)

    async def last_seen(self, key: str) -> Job | None:
        if self.tripped:
            return None
        try:
            async with self._op(), self._redis.pipeline(transaction=False) as pipe:
                pipe.exists(self.key("poll", key))
                pipe.get(self.key("seen", key))
                polled, raw = await pipe.execute()
        except Exception as exc:
            self._failed("reading a job's state", exc)
            return None
        if not polled or not raw:  # nobody polls it now: what was seen may be old
            return None
        try:
            return Job.model_validate_json(raw)
        except ValueError:
            return None

    async def wake(self, job_id: str) -> None:
        try:
            async with self._op():
                await self._redis.publish(self.key("wake"), job_id)
        except Exception as exc:
            self._failed("passing on a webhook", exc)
            await super().wake(job_id)  # at least this worker's waiters

    # --- the listener ---------------------------------------------------------------------------------------------

    async def listen(self) -> None:
        """Take other workers' poll results and webhooks until cancelled, reconnecting whenever Redis comes back.

        The subscription has its own connection without a read timeout (a quiet channel is not an outage); a dead
        connection is found by TCP keepalive and redis-py's health checks."""
        from redis.asyncio import Redis

        pause = 0.25
        jobs, wake = self.key("jobs"), self.key("wake")
        while True:
            client: Any = Redis.from_url(
                self.url,
                socket_timeout=None,
                socket_connect_timeout=OP_TIMEOUT_S,
                socket_keepalive=True,
                health_check_interval=15,
                decode_responses=True,
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(jobs, wake)
                self._listening, pause = True, 0.25
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._dispatch(str(message.get("channel")), str(message.get("data")), jobs)
            except anyio.get_cancelled_exc_class():
                raise
            except Exception as exc:
                self._failed("listening for other workers' updates", exc)
            finally:
                self._listening = False
                with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                    await pubsub.aclose()
                    await client.aclose()
            await anyio.sleep(pause)
            pause = min(pause * 2, 5.0)

    def _dispatch(self, channel: str, data: str, jobs_channel: str) -> None:
        try:
            if channel == jobs_channel:
                message = json.loads(data)
                if message.get("from") != self.owner and self.on_update is not None:
                    self.on_update(str(message["key"]), Job.model_validate_json(message["job"]))
            elif self.on_wake is not None:
                self.on_wake(data)
        except (ValueError, KeyError, TypeError):
            log.debug("ignored an unreadable message on %s", channel)

    async def aclose(self) -> None:
        await self._redis.aclose(close_connection_pool=True)


def _started(value: Any) -> float:
    try:
        return float(str(value).split()[0])
    except (ValueError, IndexError):
        return 0.0  # unreadable: old enough to drop


def _digest(uri: str) -> str:
    return hashlib.sha256(uri.encode()).hexdigest()[:32]


def _parsed(raw: Any) -> JobRecord | None:
    if not raw:
        return None
    try:
        return JobRecord.from_json(json.loads(raw))
    except (ValueError, KeyError, TypeError):
        return None

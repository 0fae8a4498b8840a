"""The type of an asyncpg connection as this code receives it: a pool hands out a proxy, which asyncpg's
stubs type apart from ``Connection`` (it forwards every call to one)."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection: TypeAlias = asyncpg.Connection | PoolConnectionProxy

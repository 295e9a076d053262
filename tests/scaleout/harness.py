"""Moved to sfumato.testing.cluster (bench/ uses it too); re-exported for the tests that still import it."""

from sfumato.testing.cluster import (
    BROKERS,
    PG_ADMIN_URL,
    RABBITMQ_BASE,
    REDIS_BASE,
    Cluster,
    RedisServer,
    cluster_env,
    running_cluster,
    scratch_broker,
    scratch_database,
    scratch_redis,
    scratch_vhost,
)

__all__ = [
    "BROKERS",
    "PG_ADMIN_URL",
    "RABBITMQ_BASE",
    "REDIS_BASE",
    "Cluster",
    "RedisServer",
    "cluster_env",
    "running_cluster",
    "scratch_broker",
    "scratch_database",
    "scratch_redis",
    "scratch_vhost",
]

"""Blueprints: versioned, named workflows of Sfumato's own operations (definitions.py: the file format), run as
ordinary jobs one step after another (runner.py), with imageUrl inputs fetched under the webhooks' SSRF rules
(fetch.py). docs/blueprints.md is the operator's guide."""

from sfumato.services.blueprints.definitions import OPERATIONS, Blueprint, BlueprintFileError, Node, Version
from sfumato.services.blueprints.fetch import ImageFetcher
from sfumato.services.blueprints.paging import Page
from sfumato.services.blueprints.runner import ExecutionRunner
from sfumato.services.blueprints.service import (
    Blueprints,
    ExecutionView,
    NodeInput,
    StepView,
    VersionView,
    load_blueprints,
    wire_generation_status,
)

__all__ = [
    "OPERATIONS",
    "Blueprint",
    "BlueprintFileError",
    "Blueprints",
    "ExecutionRunner",
    "ExecutionView",
    "ImageFetcher",
    "Node",
    "NodeInput",
    "Page",
    "StepView",
    "Version",
    "VersionView",
    "load_blueprints",
    "wire_generation_status",
]

"""Which destinations a webhook may reach, and that the checked address is the one connected to."""

from __future__ import annotations

import pytest

from sfumato.jobs.webhook_safety import DestinationGuard, DestinationRefused, classify_address


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.10", "private"),
        ("fd00::1", "private"),
        ("fc00::5", "private"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("168.63.129.16", "metadata"),
        ("169.254.170.2", "metadata"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),  # IPv4-mapped
        ("2002:a00:1::", "private"),  # 6to4 wrapping 10.0.0.1
    ],
)
def test_non_public_addresses_are_classified(address: str, why: str) -> None:
    reason = classify_address(address)
    assert reason is not None and why in reason


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert classify_address(address) is None


def guard(answer: list[str], **kwargs: object) -> DestinationGuard:
    return DestinationGuard(resolver=lambda _host, _port: answer, **kwargs)  # type: ignore[arg-type]


def test_public_https_destination_is_pinned_to_the_checked_address_with_name_kept() -> None:
    target = guard(["93.184.216.34"]).pin("https://hooks.example.com/leonardo?x=1")
    assert str(target.url) == "https://93.184.216.34/leonardo?x=1"
    assert target.headers == {"host": "hooks.example.com"}
    assert target.extensions == {"sni_hostname": "hooks.example.com"}  # TLS checks the name, not the IP


def test_pinned_ipv6_and_explicit_port() -> None:
    target = guard(["2606:4700:4700::1111"]).pin("http://hooks.example.com:8080/x")
    assert str(target.url) == "http://[2606:4700:4700::1111]:8080/x"
    assert target.headers == {"host": "hooks.example.com:8080"} and target.extensions == {}


def test_name_resolving_to_a_private_address_is_refused_with_the_fix() -> None:
    with pytest.raises(DestinationRefused) as info:
        guard(["10.0.0.7"]).pin("https://internal.example.com/hook")
    message = str(info.value)
    assert "10.0.0.7" in message and "private" in message
    assert "SFUMATO_WEBHOOK_ALLOW_PRIVATE" in message and "SFUMATO_WEBHOOK_ALLOW_HOSTS" in message


def test_the_first_answer_is_the_one_checked_and_used() -> None:
    # A rebinding answer (private first) is refused, not skipped over to a public one.
    with pytest.raises(DestinationRefused):
        guard(["127.0.0.1", "93.184.216.34"]).pin("http://rebind.example.com/")


def test_allow_private_lets_private_through_but_not_metadata() -> None:
    assert guard(["192.168.0.5"], allow_private=True).pin("http://nas.lan/hook").address == "192.168.0.5"
    with pytest.raises(DestinationRefused) as info:
        guard(["169.254.169.254"], allow_private=True).pin("http://metadata.example/")
    assert "metadata" in str(info.value) and "ALLOW_PRIVATE" not in str(info.value)


def test_allow_hosts_by_name_or_address() -> None:
    hosts = frozenset({"receiver.internal", "10.9.9.9"})
    assert guard(["10.1.1.1"], allow_hosts=hosts).pin("http://receiver.internal/").address == "10.1.1.1"
    assert guard(["10.9.9.9"], allow_hosts=hosts).pin("http://other.internal/").address == "10.9.9.9"
    with pytest.raises(DestinationRefused):
        guard(["10.1.1.1"], allow_hosts=hosts).pin("http://other.internal/")


def test_ip_literal_urls_are_checked_too() -> None:
    with pytest.raises(DestinationRefused):
        DestinationGuard().pin("http://127.0.0.1:9/hook")
    with pytest.raises(DestinationRefused):
        DestinationGuard().pin("http://[::ffff:169.254.169.254]/latest/meta-data")


def test_a_name_that_does_not_resolve_is_a_network_error_not_a_refusal() -> None:
    with pytest.raises(OSError):
        guard([]).pin("https://nowhere.example/")

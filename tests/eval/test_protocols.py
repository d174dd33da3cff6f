import pytest

from dynint.errors import ConfigError
from dynint.eval.protocols import RankingProtocol


def test_default_protocol_is_full_ranking_excluding_seen_items():
    protocol = RankingProtocol()
    assert protocol.kind == "full" and protocol.ks == (5, 10, 20)
    assert protocol.exclude_seen and protocol.item_chunk_size is None


def test_ks_given_as_a_list_become_a_hashable_tuple():
    protocol = RankingProtocol(ks=[1, 10])
    assert protocol.ks == (1, 10)
    assert hash(protocol) == hash(RankingProtocol(ks=(1, 10)))


@pytest.mark.parametrize(
    "key, value",
    [
        ("kind", "partial"),
        ("ks", ()),
        ("ks", (0, 10)),
        ("num_negatives", 0),
        ("negative_sampling", "inverse"),
        ("batch_size", 0),
        ("item_chunk_size", 0),
    ],
)
def test_invalid_values_raise_a_config_error_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=key):
        RankingProtocol(**{key: value})

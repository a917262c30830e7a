"""bench.acks' summary: the medians over rounds of each burst's figures."""

from bench.acks import summary


def test_the_summary_is_the_median_of_each_figure_over_the_rounds():
    rounds = [(10.0, 30.0, 250.0), (12.0, 90.0, 240.0), (11.0, 40.0, 400.0)]
    assert summary(rounds) == {"ack_p50_ms": 11.0, "ack_p99_ms": 40.0, "cpu_per_ack_us": 250.0}

"""The benchmark harness behind `coach bench` (`harness.py`: every figure in one run; `nudges.py`: nudge
planning over the learner store), written beside its last figures, `bench/results.json`."""

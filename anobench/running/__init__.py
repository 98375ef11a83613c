"""Making runs: a run request through its checks (`harness`) to a method scoring the cases of a
split a batch at a time (`scoring`), journalled so that a killed run resumes (`journal`), with the
named splits it reads (`sources`), the checks at the plugin border (`contract`), whether a finished
run still stands for a request (`reuse`) and whether its data is still the data it read
(`verification`). What it writes is kept by `anobench.store`.
"""

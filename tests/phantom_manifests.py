"""The data manifest each embedded phantom's default settings generate, written down once: the
phantom-bytes test regenerates every phantom and compares with these, and the shipped-checkpoints
test requires every checkpoint trained on a phantom to record its value. Together they tie each
shipped checkpoint to the data the current generator makes (a checkpoint of older data, or a
generator that changed, fails one of them). Update a value only with a new generator version, and
retrain the checkpoints that name it."""

PUBLISHED = {
    "brain-phantom": "d32e8dba6844613c9a1713440b8cf6eca8a5b9c50734093306a53d2099349d19",  # generator v3
    "wrist-phantom": "36d7a1006685f303ce7986bb125acec98c211a7be71d362aa4a928280c0e1258",
    "brain-phantom-volumes": "e25df952509b2c3ef07dacd8226d5377a75b8affff462648df983a1d9f8e8bde",
    "brain-phantom-t2": "a0046c966c18c3e823f8f0c73bf32559efafceb853a0ca9d48440d00560c8ed7",  # generator v1, tumour
}

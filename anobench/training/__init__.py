"""Training the denoisers the methods read: the loop, its resume and the checkpoint it writes
(`trainer`), the healthy images it trains on, from one or several named splits (`data`), and each
training scheme's loss (`objectives`).
"""

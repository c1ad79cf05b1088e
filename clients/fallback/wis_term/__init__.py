"""wis-term: the WIS server's terminal client for the worst links (line-oriented, 80 columns,
Swedish by default). Protocol and state logic are sans-I/O (linkstate, outbox records, feed
journal, render, commands); transport.py and app.py do the I/O."""

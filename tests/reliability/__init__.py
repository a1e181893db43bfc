"""The standing reliability suite (issue 16): chaos, bad input, corrupt files, driver deaths,
a second user and a listener scan. See README.md."""

"""The one name of Ray's private ``ray._private`` that Ray's own documentation imports:
``test_utils.wait_for_condition`` (Serve's client-disconnect example). Nothing else of
Ray's private package is provided."""

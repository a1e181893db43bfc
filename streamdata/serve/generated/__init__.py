"""Python modules generated from ``serve.proto`` (Ray Serve's ``ray.serve.generated``):
``serve_pb2`` (the messages) and ``serve_pb2_grpc`` (``RayServeAPIServiceStub``), to
ask a running serve gRPC proxy for its applications (``ListApplications``) and its
health (``Healthz``).

The modules are generated code: change ``serve.proto`` and regenerate them with the
command written in it. They need the ``protobuf`` and ``grpcio`` runtimes at least
as new as the ``grpcio-tools`` that generated them (their headers name the versions).

Example:
    >>> from streamdata.serve.generated.serve_pb2 import ListApplicationsResponse
    >>> list(ListApplicationsResponse(application_names=["app1"]).application_names)
    ['app1']
"""

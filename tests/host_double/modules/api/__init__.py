"""``modules.api``: the ``/sdapi/v1`` REST API of the fake WebUI."""

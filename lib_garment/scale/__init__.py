"""Catalogues beyond one machine: the catalogue runner's generating jobs on Celery + Redis across many WebUI servers.

``extra`` names the optional packages (``celery[redis]``) and how to install them; ``broker`` reads, checks and
redacts the broker's URL; ``app`` is the Celery application both sides share (its settings: late
acknowledgement, re-delivery of a lost worker's job, the visibility timeout); ``worker`` is one worker per WebUI
server; ``coordinator`` queues a catalogue's pending jobs and records their results through the catalogue's own
state, files and reports; ``status`` says what the workers and the queue are doing.

Celery is imported only inside functions, so nothing here costs anything, or needs the extra, until a
``--broker`` is given.
"""

"""The worker: APScheduler 3.x used only as a clock; the jobs are thin and call services in ``crm``."""

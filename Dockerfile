# One image for every service (migrate, web, worker).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY crm ./crm
COPY jobs ./jobs
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
RUN pip install --no-cache-dir . && useradd --create-home crm && mkdir -p /app/var && chown crm /app/var
USER crm
EXPOSE 8000
CMD ["crm", "run", "--host", "0.0.0.0", "--port", "8000", "--no-worker", "--no-seed"]

-- Camunda keeps its engine tables in a database of its own, next to PFlow's. The postgres image runs
-- this once, as POSTGRES_USER, when it initialises an empty data volume; that user then owns both
-- databases, and Camunda logs in with it (DB_USERNAME/DB_PASSWORD in deploy/docker-compose.yml).
CREATE DATABASE camunda;

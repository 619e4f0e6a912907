-- Up Migration

-- The hot statements are prepared (src/repositories/*), and PostgreSQL keeps a prepared
-- statement's generic plan until the table is next analysed. A plan made while a young table was
-- small is a sequential scan, kept while the table grows by thousands of rows a second (a first
-- onboarding run): five times the CPU per registration (docs/performance.md). Analysing these
-- tables after a fixed number of changes rather than 10 % of their size re-plans such statements
-- early and often while a table is young, and rarely once it is large.
ALTER TABLE applications SET (autovacuum_analyze_threshold = 1000, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE access_tokens SET (autovacuum_analyze_threshold = 1000, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE refresh_tokens SET (autovacuum_analyze_threshold = 1000, autovacuum_analyze_scale_factor = 0.02);

-- Down Migration
ALTER TABLE refresh_tokens RESET (autovacuum_analyze_threshold, autovacuum_analyze_scale_factor);
ALTER TABLE access_tokens RESET (autovacuum_analyze_threshold, autovacuum_analyze_scale_factor);
ALTER TABLE applications RESET (autovacuum_analyze_threshold, autovacuum_analyze_scale_factor);

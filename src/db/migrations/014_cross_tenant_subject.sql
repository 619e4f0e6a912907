-- Up Migration
-- A SaaS app's users may come from other tenants (WSO2's saasApp / isSaasApplication, reference
-- §8). Their token lives in the app's tenant, their account in their own, which row security hides
-- from a statement in the app's tenant: the token keeps the name it was issued for
-- (`bob@b.com`, as `sub` says), NULL for every token of the app's own tenant's users, whose name
-- comes from their row as before.
ALTER TABLE access_tokens ADD COLUMN subject text;
ALTER TABLE refresh_tokens ADD COLUMN subject text;

-- Down Migration
ALTER TABLE refresh_tokens DROP COLUMN subject;
ALTER TABLE access_tokens DROP COLUMN subject;

-- How often the device listing agreed with the details, per org and field, over
-- the recent runs, and the changes it missed; with whether the job trusts it now.
-- ip, mac: the listing's value against the details' of the devices a run fetched;
-- activating: the listing's connection status 'activating' against the details'
-- activation state. missed: changes the audit sample found that the listing did not
-- show. A field not trusted makes every device of its org be fetched.
-- Parameters: runs (default 24: the recent runs looked at)
-- Run: psql -v runs=48 -f queries/reports/listing_agreement.sql
\if :{?runs} \else \set runs 24 \endif
WITH recent AS (
    SELECT run_id FROM sync_runs WHERE detect = 'listing' ORDER BY run_id DESC LIMIT :'runs'::int
)
SELECT a.org_key                                                    AS org,
       a.field,
       count(DISTINCT a.run_id)                                     AS runs,
       sum(a.compared)                                              AS compared,
       sum(a.disagreed)                                             AS disagreed,
       round(100 * (1 - sum(a.disagreed)::numeric / nullif(sum(a.compared), 0)), 2) AS agree_pct,
       sum(a.sampled)                                               AS sampled,
       sum(a.missed)                                                AS missed,
       coalesce(t.trusted, true)                                    AS trusted,
       t.evidence
FROM listing_agreement a
JOIN recent r USING (run_id)
LEFT JOIN listing_trust t ON t.org_key = a.org_key AND t.field = a.field
GROUP BY a.org_key, a.field, t.trusted, t.evidence
ORDER BY a.org_key, a.field;

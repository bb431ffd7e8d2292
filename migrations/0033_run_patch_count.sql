-- Nova: how many patches a run has (run_patches). A tick of a workflow document's run reads the
-- patches only when there are some: the count comes with the run it takes, at no cost (an
-- exists test in the take cost the notification burst 5 % of its throughput). A trigger keeps
-- it, so patches inserted by any code (an older deployment still running, SQL by hand) count.
alter table runs add column patches integer not null default 0;
update runs r set patches = c.n
from (select run_id, count(*)::integer as n from run_patches group by run_id) c
where c.run_id = r.id;

create function nova_count_run_patches() returns trigger language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    update runs set patches = patches + 1 where id = new.run_id;
  else
    update runs set patches = patches - 1 where id = old.run_id;
  end if;
  return null;
end $$;

create trigger run_patches_count after insert or delete on run_patches
  for each row execute function nova_count_run_patches();

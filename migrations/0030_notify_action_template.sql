-- Templates carry an action too: `action_template` (Liquid), the link an in-app message or a web
-- push notification opens, rendered with the same variables as subject and body. Null: no action.
alter table notify.ent_notification_template add column action_template text;

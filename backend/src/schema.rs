// The one portable schema for SQLite and PostgreSQL (hand-written; `tests/e2e/drift.rs`
// migrates both backends and compares every table, column and nullability with this file).

diesel::table! {
    companies (id) {
        id -> BigInt,
        name -> Text,
        name_key -> Text,
        phone -> Text,
        notes -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    company_domains (domain) {
        domain -> Text,
        company_id -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        active -> Bool,
        auth_version -> BigInt,
        timezone -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    contacts (id) {
        id -> BigInt,
        company_id -> BigInt,
        email -> Text,
        name -> Text,
        phone -> Text,
        password_hash -> Nullable<Text>,
        active -> Bool,
        auth_version -> BigInt,
        timezone -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    queues (id) {
        id -> BigInt,
        name -> Text,
        is_triage -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    queue_members (queue_id,user_id) {
        queue_id -> BigInt,
        user_id -> BigInt,
        is_dispatcher -> Bool,
    }
}

diesel::table! {
    tickets (id) {
        id -> BigInt,
        subject -> Text,
        company_id -> Nullable<BigInt>,
        requester_id -> Nullable<BigInt>,
        status -> Text,
        priority -> BigInt,
        queue_id -> BigInt,
        assignee_id -> Nullable<BigInt>,
        merged_into_id -> Nullable<BigInt>,
        source -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_activity_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        sla_due_at -> Timestamp,
    }
}

diesel::table! {
    ticket_tags (ticket_id,tag) {
        ticket_id -> BigInt,
        tag -> Text,
    }
}

diesel::table! {
    ticket_watchers (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        user_id -> Nullable<BigInt>,
        contact_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    ticket_entries (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        kind -> Text,
        author_user_id -> Nullable<BigInt>,
        author_contact_id -> Nullable<BigInt>,
        author_label -> Text,
        body -> Text,
        body_html -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    time_entries (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        user_id -> BigInt,
        entry_id -> Nullable<BigInt>,
        minutes -> BigInt,
        billable -> Bool,
        note -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ticket_links (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        other_ticket_id -> BigInt,
        kind -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ticket_events (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        actor_user_id -> Nullable<BigInt>,
        actor_contact_id -> Nullable<BigInt>,
        kind -> Text,
        old_value -> Nullable<Text>,
        new_value -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> BigInt,
        user_id -> Nullable<BigInt>,
        contact_id -> Nullable<BigInt>,
        kind -> Text,
        title -> Text,
        body -> Text,
        ticket_id -> Nullable<BigInt>,
        link -> Text,
        read_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        actor_user_id -> Nullable<BigInt>,
        action -> Text,
        target_kind -> Text,
        target_id -> Nullable<BigInt>,
        detail -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        token_hash -> Text,
        token_prefix -> Text,
        scope -> Text,
        auth_version -> BigInt,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    change_log (id) {
        id -> BigInt,
        entity -> Text,
        entity_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    jobs (id) {
        id -> BigInt,
        kind -> Text,
        payload -> Text,
        dedupe_key -> Nullable<Text>,
        run_at -> Timestamp,
        attempts -> BigInt,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::joinable!(company_domains -> companies (company_id));
diesel::joinable!(contacts -> companies (company_id));
diesel::joinable!(queue_members -> queues (queue_id));
diesel::joinable!(queue_members -> users (user_id));
diesel::joinable!(tickets -> companies (company_id));
diesel::joinable!(tickets -> contacts (requester_id));
diesel::joinable!(tickets -> queues (queue_id));
diesel::joinable!(tickets -> users (assignee_id));
diesel::joinable!(ticket_tags -> tickets (ticket_id));
diesel::joinable!(ticket_watchers -> tickets (ticket_id));
diesel::joinable!(ticket_watchers -> users (user_id));
diesel::joinable!(ticket_watchers -> contacts (contact_id));
diesel::joinable!(ticket_entries -> tickets (ticket_id));
diesel::joinable!(ticket_entries -> users (author_user_id));
diesel::joinable!(ticket_entries -> contacts (author_contact_id));
diesel::joinable!(time_entries -> tickets (ticket_id));
diesel::joinable!(time_entries -> users (user_id));
diesel::joinable!(time_entries -> ticket_entries (entry_id));
diesel::joinable!(ticket_links -> tickets (ticket_id));
diesel::joinable!(ticket_events -> tickets (ticket_id));
diesel::joinable!(ticket_events -> users (actor_user_id));
diesel::joinable!(ticket_events -> contacts (actor_contact_id));
diesel::joinable!(notifications -> users (user_id));
diesel::joinable!(notifications -> contacts (contact_id));
diesel::joinable!(notifications -> tickets (ticket_id));
diesel::joinable!(audit_log -> users (actor_user_id));
diesel::joinable!(api_tokens -> users (user_id));

// ---- development threads

diesel::table! {
    products (id) {
        id -> BigInt,
        name -> Text,
        description -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    releases (id) {
        id -> BigInt,
        product_id -> BigInt,
        version -> Text,
        build -> Text,
        status -> Text,
        release_date -> Nullable<Timestamp>,
        notes -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    dev_threads (id) {
        id -> BigInt,
        kind -> Text,
        title -> Text,
        description -> Text,
        product_id -> BigInt,
        affected_release_id -> Nullable<BigInt>,
        fixed_in_release_id -> Nullable<BigInt>,
        status -> Text,
        duplicate_of_id -> Nullable<BigInt>,
        visibility -> Text,
        owner_user_id -> Nullable<BigInt>,
        shortcut -> Text,
        vote_count -> BigInt,
        subscriber_count -> BigInt,
        last_activity_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    dev_labels (thread_id, label) {
        thread_id -> BigInt,
        label -> Text,
    }
}

diesel::table! {
    dev_comments (id) {
        id -> BigInt,
        thread_id -> BigInt,
        internal -> Bool,
        author_user_id -> Nullable<BigInt>,
        author_contact_id -> Nullable<BigInt>,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    dev_votes (id) {
        id -> BigInt,
        thread_id -> BigInt,
        user_id -> Nullable<BigInt>,
        contact_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    dev_subscriptions (id) {
        id -> BigInt,
        thread_id -> BigInt,
        user_id -> Nullable<BigInt>,
        contact_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    dev_ticket_links (thread_id, ticket_id) {
        thread_id -> BigInt,
        ticket_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    dev_release_notices (id) {
        id -> BigInt,
        release_id -> BigInt,
        user_id -> Nullable<BigInt>,
        contact_id -> Nullable<BigInt>,
        ticket_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(releases -> products (product_id));
diesel::joinable!(dev_threads -> products (product_id));
diesel::joinable!(dev_threads -> releases (affected_release_id));
diesel::joinable!(dev_threads -> users (owner_user_id));
diesel::joinable!(dev_labels -> dev_threads (thread_id));
diesel::joinable!(dev_comments -> dev_threads (thread_id));
diesel::joinable!(dev_comments -> users (author_user_id));
diesel::joinable!(dev_comments -> contacts (author_contact_id));
diesel::joinable!(dev_votes -> dev_threads (thread_id));
diesel::joinable!(dev_votes -> users (user_id));
diesel::joinable!(dev_votes -> contacts (contact_id));
diesel::joinable!(dev_subscriptions -> dev_threads (thread_id));
diesel::joinable!(dev_subscriptions -> users (user_id));
diesel::joinable!(dev_subscriptions -> contacts (contact_id));
diesel::joinable!(dev_ticket_links -> dev_threads (thread_id));
diesel::joinable!(dev_ticket_links -> tickets (ticket_id));
diesel::joinable!(dev_release_notices -> releases (release_id));
diesel::joinable!(dev_release_notices -> users (user_id));
diesel::joinable!(dev_release_notices -> contacts (contact_id));
diesel::joinable!(dev_release_notices -> tickets (ticket_id));

diesel::allow_tables_to_appear_in_same_query!(
    companies,
    company_domains,
    users,
    contacts,
    queues,
    queue_members,
    tickets,
    ticket_tags,
    ticket_watchers,
    ticket_entries,
    time_entries,
    ticket_links,
    ticket_events,
    notifications,
    audit_log,
    api_tokens,
    change_log,
    jobs,
    settings,
    products,
    releases,
    dev_threads,
    dev_labels,
    dev_comments,
    dev_votes,
    dev_subscriptions,
    dev_ticket_links,
    dev_release_notices,
    web_sessions,
    user_totp,
    recovery_codes,
    contact_invites,
    sla_calendars,
    sla_policies,
    sla_company_policies,
    sla_clocks,
    sla_events,
);

// ---- web UI sign-in (migration 2026-11-28-000040_web)

diesel::table! {
    web_sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        user_id -> Nullable<BigInt>,
        contact_id -> Nullable<BigInt>,
        auth_version -> BigInt,
        pending -> Text,
        client_addr -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    user_totp (user_id) {
        user_id -> BigInt,
        secret_enc -> Text,
        confirmed_at -> Nullable<Timestamp>,
        last_step -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> BigInt,
        user_id -> BigInt,
        code_hash -> Text,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    contact_invites (id) {
        id -> BigInt,
        contact_id -> BigInt,
        token_hash -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(web_sessions -> users (user_id));
diesel::joinable!(web_sessions -> contacts (contact_id));
diesel::joinable!(user_totp -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::joinable!(contact_invites -> contacts (contact_id));

// ---- mail gateway (migration 2026-11-28-000080_mail)

diesel::table! {
    mail_messages (id) {
        id -> BigInt,
        direction -> Text,
        message_id -> Text,
        ticket_id -> Nullable<BigInt>,
        entry_id -> Nullable<BigInt>,
        kind -> Text,
        status -> Text,
        reason -> Text,
        from_addr -> Text,
        to_addr -> Text,
        subject -> Text,
        raw_sha256 -> Nullable<Text>,
        size -> BigInt,
        created_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
        resolved_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    mail_attachments (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        entry_id -> Nullable<BigInt>,
        filename -> Text,
        content_type -> Text,
        content_id -> Nullable<Text>,
        size -> BigInt,
        sha256 -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mail_undeliverable (email) {
        email -> Text,
        reason -> Text,
        status -> Text,
        ticket_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

// ---- assets and server agents (migration 2026-11-28-000100_assets)

diesel::table! {
    asset_enrollment_keys (id) {
        id -> BigInt,
        company_id -> BigInt,
        label -> Text,
        key_hash -> Text,
        key_hint -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        use_count -> BigInt,
    }
}

diesel::table! {
    assets (id) {
        id -> BigInt,
        company_id -> BigInt,
        hostname -> Text,
        source -> Text,
        device_id -> Text,
        os_name -> Text,
        os_version -> Text,
        kernel -> Text,
        snapshot -> Nullable<Text>,
        content_hash -> Text,
        health -> Nullable<Text>,
        created_at -> Timestamp,
        last_seen_at -> Nullable<Timestamp>,
        inventory_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    asset_agents (id) {
        id -> BigInt,
        asset_id -> BigInt,
        enrollment_key_id -> Nullable<BigInt>,
        token_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    asset_reports (id) {
        id -> BigInt,
        asset_id -> BigInt,
        report_id -> Text,
        kind -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    asset_changes (id) {
        id -> BigInt,
        asset_id -> BigInt,
        kind -> Text,
        subject -> Text,
        old_value -> Nullable<Text>,
        new_value -> Nullable<Text>,
        seen_at -> Timestamp,
    }
}

diesel::table! {
    asset_logs (id) {
        id -> BigInt,
        asset_id -> BigInt,
        source -> Text,
        line -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    asset_check_settings (id) {
        id -> BigInt,
        scope -> Text,
        company_id -> Nullable<BigInt>,
        asset_id -> Nullable<BigInt>,
        check_kind -> Text,
        enabled -> Bool,
        threshold -> Nullable<BigInt>,
        pattern -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    asset_alerts (id) {
        id -> BigInt,
        asset_id -> BigInt,
        check_key -> Text,
        ticket_id -> Nullable<BigInt>,
        detail -> Text,
        opened_at -> Timestamp,
        last_failed_at -> Timestamp,
        failures -> BigInt,
        noted_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    ocs_credentials (id) {
        id -> BigInt,
        company_id -> BigInt,
        username -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(asset_agents -> assets (asset_id));
diesel::joinable!(asset_changes -> assets (asset_id));
diesel::joinable!(asset_logs -> assets (asset_id));
diesel::joinable!(asset_alerts -> assets (asset_id));

diesel::allow_tables_to_appear_in_same_query!(
    asset_enrollment_keys,
    assets,
    asset_agents,
    asset_reports,
    asset_changes,
    asset_logs,
    asset_check_settings,
    asset_alerts,
    ocs_credentials,
);

// ---- SLA engine (migration 2026-11-28-000070_sla)

diesel::table! {
    sla_calendars (id) {
        id -> BigInt,
        name -> Text,
        timezone -> Text,
        hours -> Text,
        holidays -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sla_policies (id) {
        id -> BigInt,
        name -> Text,
        is_default -> Bool,
        calendar_id -> Nullable<BigInt>,
        targets -> Text,
        warn_percent -> BigInt,
        pause_on_third_party -> Bool,
        breach_raise_priority -> Bool,
        breach_reassign_to -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sla_company_policies (company_id) {
        company_id -> BigInt,
        policy_id -> BigInt,
    }
}

diesel::table! {
    sla_clocks (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        kind -> Text,
        state -> Text,
        policy_id -> Nullable<BigInt>,
        calendar_id -> Nullable<BigInt>,
        target_minutes -> Nullable<BigInt>,
        segments -> Text,
        running_since -> Nullable<Timestamp>,
        warn_at -> Nullable<Timestamp>,
        due_at -> Nullable<Timestamp>,
        warned_at -> Nullable<Timestamp>,
        breached_at -> Nullable<Timestamp>,
        met_at -> Nullable<Timestamp>,
        started_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sla_events (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        clock_kind -> Text,
        event -> Text,
        elapsed_seconds -> BigInt,
        target_minutes -> Nullable<BigInt>,
        due_at -> Nullable<Timestamp>,
        company_id -> Nullable<BigInt>,
        assignee_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(sla_policies -> sla_calendars (calendar_id));
diesel::joinable!(sla_company_policies -> sla_policies (policy_id));
diesel::joinable!(sla_company_policies -> companies (company_id));
diesel::joinable!(sla_clocks -> tickets (ticket_id));
diesel::joinable!(sla_events -> tickets (ticket_id));

// ---- password reset links (migration 2026-11-28-000115_password_resets)

diesel::table! {
    password_resets (id) {
        id -> BigInt,
        user_id -> Nullable<BigInt>,
        contact_id -> Nullable<BigInt>,
        token_hash -> Text,
        client_addr -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(password_resets -> users (user_id));
diesel::joinable!(password_resets -> contacts (contact_id));

package store

import (
	"context"
	"fmt"
)

// Limits on a setting, so that one person cannot fill the disk through it.
const (
	// MaxSettingKey is the longest setting name, in bytes.
	MaxSettingKey = 64
	// MaxSettingValue is the longest setting value, in bytes.
	MaxSettingValue = 4096
)

// SetSetting records identity's preference key (for example "theme", "tz",
// "bell", "timestamps" or "nick") as value. An empty value deletes the
// setting, so that the default applies again. The store does not interpret
// keys or values.
func (s *SQLite) SetSetting(ctx context.Context, identity, key, value string) error {
	switch {
	case identity == "" || key == "":
		return fmt.Errorf("store: set setting: %w: identity and key are required", ErrInvalid)
	case len(key) > MaxSettingKey:
		return fmt.Errorf("store: set setting: %w: key longer than %d bytes", ErrInvalid, MaxSettingKey)
	case len(value) > MaxSettingValue:
		return fmt.Errorf("store: set setting %s: %w: value longer than %d bytes", key, ErrInvalid, MaxSettingValue)
	}
	var err error
	if value == "" {
		_, err = s.deleteSetting.ExecContext(ctx, identity, key)
	} else {
		_, err = s.putSetting.ExecContext(ctx, identity, key, value)
	}
	if err != nil {
		return fmt.Errorf("store: set setting %s of %s: %w", key, identity, err)
	}
	return nil
}

// Settings returns every setting of identity, by key; an empty map if none.
func (s *SQLite) Settings(ctx context.Context, identity string) (map[string]string, error) {
	rows, err := s.settings.QueryContext(ctx, identity)
	if err != nil {
		return nil, fmt.Errorf("store: settings of %s: %w", identity, err)
	}
	defer rows.Close()
	out := make(map[string]string)
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("store: settings of %s: %w", identity, err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: settings of %s: %w", identity, err)
	}
	return out, nil
}

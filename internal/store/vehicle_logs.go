package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/list"
)

// A vehicle's maintenance and fuel logs. Entries are added and listed, never edited: they are the
// vehicle's history. Listing needs vehicles.view and adding vehicles.edit on the vehicle; a vehicle
// the caller cannot see is "not found" for its logs too.
//
// Rules for readings: mileages are whole numbers from 0; negative values are refused. An entry whose
// reading is above the vehicle's current_mileage raises it; one below it is accepted (history may be
// entered late) and leaves the odometer alone.

// MaintenanceTypes are the values of maintenance_type.
var MaintenanceTypes = []string{"oil_change", "tire_rotation", "brake_service", "inspection", "tune_up", "transmission",
	"coolant", "battery", "repair", "other"}

// Entry is what every log entry has.
type Entry struct {
	ID        int64
	VehicleID int64
	OrgID     int64
	CreatedAt time.Time
}

func (e *Entry) entry() *Entry { return e }

// logEntry is a pointer to a struct embedding Entry.
type logEntry[E any] interface {
	*E
	entry() *Entry
}

// Maintenance is a service record.
type Maintenance struct {
	Entry
	MaintenanceType  string
	ServiceDate      Date // "" means today
	MileageAtService *int
	PerformedBy      string
	Cost             *float64
	NextDueDate      *Date
	NextDueMileage   *int
	Notes            string
}

// FuelEntry is a fill-up.
type FuelEntry struct {
	Entry
	Date      Date // "" means today
	Mileage   int
	Gallons   float64
	TotalCost *float64
	Station   string
	// MPG is computed by the store from the previous fill-up.
	MPG *float64
}

// vehicleLog declares one of a vehicle's logs, so that listing and adding entries — with the
// vehicle's tenancy and permissions, the odometer rule and the audit rows — are written once.
type vehicleLog[E any, P logEntry[E]] struct {
	table, alias, object string
	spec                 *list.Spec
	// cols are written after organization_id, vehicle_id and created_at, in the order values
	// returns them, and read back into dest's pointers.
	cols    []string
	values  func(*E) []any
	dest    func(*E) []any
	prepare func(e *E, today Date) error
	// link runs in the write transaction before the insert.
	link func(ctx context.Context, tx *sql.Tx, e *E) error
	// reading is the odometer reading an entry records, if any.
	reading func(*E) *int
	// schedule: entries of this log change the vehicle's service schedule.
	schedule bool
	fields   func(*E) map[string]any
	repr     func(*E) string
}

// MaintenanceSpec declares a vehicle's maintenance history, newest first.
var MaintenanceSpec = list.Spec{
	DefaultOrder: "-service_date,-id",
	Fields: []list.Field{
		{Name: "id", Column: "m.id", Kind: list.Int, Order: true},
		{Name: "maintenance_type", Column: "m.maintenance_type", Kind: list.Enum, Enum: MaintenanceTypes, Filter: true, Order: true},
		{Name: "service_date", Column: "m.service_date", Kind: list.Date, Order: true, Range: true},
		{Name: "mileage_at_service", Column: "m.mileage_at_service", Kind: list.Int, Order: true, Nullable: true},
		textField("performed_by", "m.performed_by", false, false),
		{Name: "cost", Column: "m.cost", Order: true, Nullable: true},
		{Name: "next_due_date", Column: "m.next_due_date", Kind: list.Date, Order: true, Nullable: true},
		{Name: "next_due_mileage", Column: "m.next_due_mileage", Kind: list.Int, Order: true, Nullable: true},
		{Name: "created_at", Column: "m.created_at", Kind: list.Time, Order: true},
	},
}

// FuelSpec declares a vehicle's fuel log, newest first (the order mpg is computed in, reversed).
var FuelSpec = list.Spec{
	DefaultOrder: "-date,-mileage,-id",
	Fields: []list.Field{
		{Name: "id", Column: "f.id", Kind: list.Int, Order: true},
		{Name: "date", Column: "f.date", Kind: list.Date, Order: true, Range: true},
		{Name: "mileage", Column: "f.mileage", Kind: list.Int, Order: true},
		{Name: "gallons", Column: "f.gallons", Order: true},
		{Name: "total_cost", Column: "f.total_cost", Order: true, Nullable: true},
		textField("station", "f.station", false, false),
		{Name: "mpg", Column: "f.mpg", Order: true, Nullable: true},
		{Name: "created_at", Column: "f.created_at", Kind: list.Time, Order: true},
	},
}

var maintenanceLog = &vehicleLog[Maintenance, *Maintenance]{
	table: "vehicle_maintenance", alias: "m", object: "vehicle_maintenance", spec: &MaintenanceSpec,
	cols: []string{"maintenance_type", "service_date", "mileage_at_service", "performed_by", "cost", "next_due_date",
		"next_due_mileage", "notes"},
	values: func(m *Maintenance) []any {
		return []any{m.MaintenanceType, m.ServiceDate, m.MileageAtService, m.PerformedBy, m.Cost, m.NextDueDate, m.NextDueMileage, m.Notes}
	},
	dest: func(m *Maintenance) []any {
		return []any{&m.MaintenanceType, &m.ServiceDate, &m.MileageAtService, &m.PerformedBy, &m.Cost, &m.NextDueDate,
			&m.NextDueMileage, &m.Notes}
	},
	prepare:  prepareMaintenance,
	reading:  func(m *Maintenance) *int { return m.MileageAtService },
	schedule: true,
	fields: func(m *Maintenance) map[string]any {
		return map[string]any{"maintenance_type": m.MaintenanceType, "service_date": m.ServiceDate,
			"mileage_at_service": deref(m.MileageAtService), "performed_by": m.PerformedBy, "cost": deref(m.Cost),
			"next_due_date": deref(m.NextDueDate), "next_due_mileage": deref(m.NextDueMileage), "notes": m.Notes}
	},
	repr: func(m *Maintenance) string { return m.MaintenanceType + " on " + string(m.ServiceDate) },
}

var fuelLog = &vehicleLog[FuelEntry, *FuelEntry]{
	table: "vehicle_fuel", alias: "f", object: "vehicle_fuel", spec: &FuelSpec,
	cols: []string{"date", "mileage", "gallons", "total_cost", "station", "mpg"},
	values: func(f *FuelEntry) []any {
		return []any{f.Date, f.Mileage, f.Gallons, f.TotalCost, f.Station, f.MPG}
	},
	dest: func(f *FuelEntry) []any {
		return []any{&f.Date, &f.Mileage, &f.Gallons, &f.TotalCost, &f.Station, &f.MPG}
	},
	prepare: prepareFuel,
	link:    linkFuel,
	reading: func(f *FuelEntry) *int { return &f.Mileage },
	fields: func(f *FuelEntry) map[string]any {
		return map[string]any{"date": f.Date, "mileage": f.Mileage, "gallons": f.Gallons, "total_cost": deref(f.TotalCost),
			"station": f.Station, "mpg": deref(f.MPG)}
	},
	repr: func(f *FuelEntry) string { return fmt.Sprintf("fuel on %s at %d", f.Date, f.Mileage) },
}

// ListMaintenance pages a vehicle's maintenance history.
func (s *Store) ListMaintenance(ctx context.Context, vehicleID int64, q list.Query) ([]Maintenance, int, error) {
	return listLog(ctx, s, maintenanceLog, vehicleID, q)
}

// AddMaintenance records a service of a vehicle.
func (s *Store) AddMaintenance(ctx context.Context, vehicleID int64, m Maintenance) (Maintenance, error) {
	return addLog(ctx, s, maintenanceLog, vehicleID, m)
}

// GetMaintenance reads one maintenance record.
func (s *Store) GetMaintenance(ctx context.Context, id int64) (Maintenance, error) {
	return getLog(ctx, s, maintenanceLog, id)
}

// ListFuel pages a vehicle's fuel log.
func (s *Store) ListFuel(ctx context.Context, vehicleID int64, q list.Query) ([]FuelEntry, int, error) {
	return listLog(ctx, s, fuelLog, vehicleID, q)
}

// AddFuel records a fill-up of a vehicle.
func (s *Store) AddFuel(ctx context.Context, vehicleID int64, f FuelEntry) (FuelEntry, error) {
	return addLog(ctx, s, fuelLog, vehicleID, f)
}

// GetFuel reads one fill-up.
func (s *Store) GetFuel(ctx context.Context, id int64) (FuelEntry, error) {
	return getLog(ctx, s, fuelLog, id)
}

// columns are the select list of an entry, read by scan.
func (l *vehicleLog[E, P]) columns() string {
	a := l.alias + "."
	return a + "id, " + a + "vehicle_id, " + a + "organization_id, " + a + "created_at, " + a + strings.Join(l.cols, ", "+a)
}

func (l *vehicleLog[E, P]) scan(r rowScanner) (E, error) {
	var e E
	h := P(&e).entry()
	err := r.Scan(append([]any{&h.ID, &h.VehicleID, &h.OrgID, &h.CreatedAt}, l.dest(&e)...)...)
	h.CreatedAt = h.CreatedAt.UTC()
	return e, err
}

func listLog[E any, P logEntry[E]](ctx context.Context, s *Store, l *vehicleLog[E, P], vehicleID int64, q list.Query) ([]E, int, error) {
	if _, err := s.GetVehicle(ctx, vehicleID); err != nil {
		return nil, 0, err
	}
	q.Terms = nil // the logs have no search fields; like DRF, a search parameter is ignored
	li := listing{table: l.table, alias: l.alias, from: l.table + " " + l.alias, columns: l.columns()}
	li.where.add(l.alias+".vehicle_id = ?", vehicleID)
	var out []E
	n, err := s.runList(ctx, l.spec, q, &li, func(r *sql.Rows) error {
		e, err := l.scan(r)
		out = append(out, e)
		return err
	})
	return out, n, err
}

// getLog reads one entry of a vehicle the caller may view; others are "not found".
func getLog[E any, P logEntry[E]](ctx context.Context, s *Store, l *vehicleLog[E, P], id int64) (E, error) {
	var zero E
	c, err := caller(ctx)
	if err != nil {
		return zero, err
	}
	e, err := l.scan(s.r.QueryRowContext(ctx, `SELECT `+l.columns()+` FROM `+l.table+` `+l.alias+` WHERE `+l.alias+`.id = $1`, id))
	if err != nil {
		return zero, notFound(err, "get "+l.object)
	}
	if org := P(&e).entry().OrgID; !c.Reaches(org) || !c.Can(org, auth.VehiclesView) {
		return zero, apperr.ErrNotFound
	}
	return e, nil
}

// addLog inserts an entry in a vehicle's log, audits it, and applies it to the vehicle.
func addLog[E any, P logEntry[E]](ctx context.Context, s *Store, l *vehicleLog[E, P], vehicleID int64, e E) (E, error) {
	c, err := caller(ctx)
	if err != nil {
		return e, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		// The vehicle's row lock orders concurrent entries, so mpg and the odometer see each other.
		v, err := getScoped(ctx, s, vehicles, tx, c, vehicleID, true)
		if err != nil {
			return err
		}
		if !c.Can(v.OrgID, auth.VehiclesEdit) {
			return apperr.ErrForbidden
		}
		now := s.Now()
		h := P(&e).entry()
		*h = Entry{VehicleID: v.ID, OrgID: v.OrgID, CreatedAt: now}
		if err := l.prepare(&e, today(now)); err != nil {
			return err
		}
		if l.link != nil {
			if err := l.link(ctx, tx, &e); err != nil {
				return err
			}
		}
		var ins query
		ins.add("INSERT INTO " + l.table + " (organization_id, vehicle_id, created_at, " + strings.Join(l.cols, ", ") + ") VALUES (")
		for i, arg := range append([]any{h.OrgID, h.VehicleID, now}, l.values(&e)...) {
			if i > 0 {
				ins.add(", ")
			}
			ins.add("?", arg)
		}
		ins.add(") RETURNING id")
		if err := tx.QueryRowContext(ctx, ins.String(), ins.args...).Scan(&h.ID); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, &h.OrgID, "create", l.object, &h.ID, v.Name+": "+l.repr(&e), diff(nil, l.fields(&e))); err != nil {
			return err
		}
		return s.applyEntry(ctx, tx, v, l.reading(&e), l.schedule)
	})
	s.changed("vehicles")
	return e, wrap(err, "add "+l.object)
}

// applyEntry brings a vehicle up to date with a new log entry: a reading above current_mileage
// raises it (a lower one leaves it), and a maintenance entry recomputes the service schedule. What
// changes is written and audited as an update of the vehicle.
func (s *Store) applyEntry(ctx context.Context, tx *sql.Tx, v *Vehicle, reading *int, schedule bool) error {
	after := *v
	if reading != nil && *reading > after.CurrentMileage {
		after.CurrentMileage = *reading
	}
	if schedule {
		var err error
		if after.NextServiceDueDate, after.NextServiceDueMileage, err = serviceDue(ctx, tx, v.ID); err != nil {
			return err
		}
	}
	ch := diff(vehicleFields(v), vehicleFields(&after))
	if len(ch) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE vehicles SET current_mileage = $1, next_service_due_date = $2, next_service_due_mileage = $3,
		updated_at = $4 WHERE id = $5`, after.CurrentMileage, after.NextServiceDueDate, after.NextServiceDueMileage, s.Now(), v.ID); err != nil {
		return err
	}
	return s.audit(ctx, tx, &v.OrgID, "update", "vehicle", &v.ID, v.Name, ch)
}

// serviceDue reads a vehicle's service schedule from its maintenance log. The latest record of each
// maintenance type (by service date, then mileage) says when that service is next due, if at all;
// the vehicle is next due at the earliest of those dates and the lowest of those mileages. A newer
// record of a type replaces the schedule of the older ones — an oil change done clears the previous
// oil change's reminder — while a record of another type leaves it.
func serviceDue(ctx context.Context, q queryer, vehicleID int64) (*Date, *int, error) {
	rows, err := q.QueryContext(ctx, `SELECT maintenance_type, next_due_date, next_due_mileage FROM vehicle_maintenance
		WHERE vehicle_id = $1 ORDER BY service_date, COALESCE(mileage_at_service, -1), id`, vehicleID)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	type due struct {
		date    *Date
		mileage *int
	}
	latest := map[string]due{}
	for rows.Next() {
		var typ string
		var d due
		if err := rows.Scan(&typ, &d.date, &d.mileage); err != nil {
			return nil, nil, err
		}
		latest[typ] = d
	}
	var date *Date
	var mileage *int
	for _, d := range latest {
		if d.date != nil && (date == nil || *d.date < *date) {
			date = d.date
		}
		if d.mileage != nil && (mileage == nil || *d.mileage < *mileage) {
			mileage = d.mileage
		}
	}
	return date, mileage, rows.Err()
}

func prepareMaintenance(m *Maintenance, day Date) error {
	errs := apperr.FieldErrors{}
	checkChoice(errs, "maintenance_type", m.MaintenanceType, MaintenanceTypes)
	m.ServiceDate = cmpOrDate(m.ServiceDate, day)
	checkMileage(errs, "mileage_at_service", m.MileageAtService)
	checkMileage(errs, "next_due_mileage", m.NextDueMileage)
	if m.NextDueMileage != nil && m.MileageAtService != nil && *m.NextDueMileage <= *m.MileageAtService {
		errs.Add("next_due_mileage", "Ensure this value is greater than mileage_at_service.")
	}
	if m.NextDueDate != nil && *m.NextDueDate <= m.ServiceDate {
		errs.Add("next_due_date", "Ensure this date is after service_date.")
	}
	checkRange(errs, "cost", m.Cost, 0, 1e9)
	trimShort(errs, map[string]*string{"performed_by": &m.PerformedBy})
	if len(m.Notes) > maxNotes {
		errs.Add("notes", fmt.Sprintf("Ensure this field has no more than %d characters.", maxNotes))
	}
	return errs.Err()
}

func prepareFuel(f *FuelEntry, day Date) error {
	errs := apperr.FieldErrors{}
	f.Date = cmpOrDate(f.Date, day)
	checkMileage(errs, "mileage", &f.Mileage)
	if !(f.Gallons > 0 && f.Gallons <= 10_000) {
		errs.Add("gallons", "Ensure this value is greater than 0 and at most 10000.")
	}
	checkRange(errs, "total_cost", f.TotalCost, 0, 1e9)
	trimShort(errs, map[string]*string{"station": &f.Station})
	f.MPG = nil
	return errs.Err()
}

func cmpOrDate(d, def Date) Date {
	if d == "" {
		return def
	}
	return d
}

func checkMileage(errs apperr.FieldErrors, name string, v *int) {
	if v != nil {
		checkInt(errs, name, *v, 0, maxMileage)
	}
}

// linkFuel computes a fill-up's mpg from the fill-up before it (ordered by date, then mileage; a new
// entry comes after those with the same date and mileage), and recomputes the mpg of the fill-up
// after it, whose predecessor it now is: history may be entered late.
func linkFuel(ctx context.Context, tx *sql.Tx, f *FuelEntry) error {
	var prev int
	err := tx.QueryRowContext(ctx, `SELECT mileage FROM vehicle_fuel WHERE vehicle_id = $1 AND (date < $2 OR (date = $2 AND mileage <= $3))
		ORDER BY date DESC, mileage DESC, id DESC LIMIT 1`, f.VehicleID, f.Date, f.Mileage).Scan(&prev)
	switch {
	case errors.Is(err, sql.ErrNoRows): // the first fill-up
	case err != nil:
		return err
	default:
		f.MPG = mpgOf(prev, f.Mileage, f.Gallons)
	}
	var next struct {
		id      int64
		mileage int
		gallons float64
	}
	err = tx.QueryRowContext(ctx, `SELECT id, mileage, gallons FROM vehicle_fuel WHERE vehicle_id = $1 AND (date > $2 OR (date = $2 AND mileage > $3))
		ORDER BY date, mileage, id LIMIT 1`, f.VehicleID, f.Date, f.Mileage).Scan(&next.id, &next.mileage, &next.gallons)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE vehicle_fuel SET mpg = $1 WHERE id = $2`, mpgOf(f.Mileage, next.mileage, next.gallons), next.id)
	return err
}

// mpgOf is the fuel economy of a fill-up of gallons at mileage after one at prevMileage: distance
// over fuel, rounded to hundredths; nil when there is no distance (a reading not above the previous).
func mpgOf(prevMileage, mileage int, gallons float64) *float64 {
	if mileage <= prevMileage || !(gallons > 0) {
		return nil
	}
	m := math.Round(float64(mileage-prevMileage)/gallons*100) / 100
	return &m
}

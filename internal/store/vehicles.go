package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/db"
	"clientst0r/internal/list"
)

// VehicleTypes are the values of vehicle_type (SPEC §4).
var VehicleTypes = []string{"sedan", "suv", "truck", "van", "cargo_van", "pickup", "other"}

// VehicleStatuses are the values of a vehicle's status.
var VehicleStatuses = []string{"active", "maintenance", "inactive", "retired"}

// maxMileage bounds every odometer reading (vehicles, maintenance, fuel).
const maxMileage = 10_000_000

// Vehicle is a service vehicle of an organization's fleet.
//
// Odometer rules: current_mileage is what the odometer shows. A direct edit may set any value from 0
// (a correction, or a replaced odometer); a maintenance or fuel entry with a higher reading raises it,
// and one with a lower reading (history entered late) leaves it alone. next_service_due_date and
// next_service_due_mileage are kept from the maintenance log (see serviceDue) and are never written
// by edits of the vehicle.
type Vehicle struct {
	Scoped
	Name                  string
	VehicleType           string
	Make                  string
	Model                 string
	Year                  *int
	Color                 string
	VIN                   string
	LicensePlate          string
	Status                string
	CurrentMileage        int
	AssignedTo            *int64
	AssigneeEmail         string // read-only: the assigned user's email
	InsuranceProvider     string
	InsurancePolicyNumber string
	InsuranceExpiresAt    *Date
	RegistrationExpiresAt *Date
	Latitude              *float64
	Longitude             *float64
	LocationUpdatedAt     *time.Time
	PurchaseDate          *Date
	PurchasePrice         *float64
	Notes                 string
	NextServiceDueDate    *Date
	NextServiceDueMileage *int

	// checkAssignee is set when a write names a new assignee, who must then be an active member of
	// the vehicle's organization. An assignee kept as is is not checked again, so an unrelated edit
	// never fails on an older assignment.
	checkAssignee bool
}

// today is the calendar day (UTC) of now, the day service due dates are compared with.
func today(now time.Time) Date { return Date(now.UTC().Format(time.DateOnly)) }

// ServiceOverdue reports whether the vehicle is due for service at now: the due date has passed
// or the odometer has reached the due mileage.
func (v Vehicle) ServiceOverdue(now time.Time) bool {
	return v.NextServiceDueDate != nil && *v.NextServiceDueDate < today(now) ||
		v.NextServiceDueMileage != nil && v.CurrentMileage >= *v.NextServiceDueMileage
}

// VehicleSpec declares the vehicles list (SPEC §4: search, filters, every stored scalar orderable).
// service_overdue is computed at the store's clock, so it filters but does not order.
var VehicleSpec = list.Spec{
	DefaultOrder: "name",
	OrgScoped:    true,
	Searchable:   true,
	Fields: []list.Field{
		{Name: "id", Column: "v.id", Kind: list.Int, Order: true},
		{Name: "organization", Column: "v.organization_id", Kind: list.Int, Order: true},
		textField("name", "v.name", true, false),
		{Name: "vehicle_type", Column: "v.vehicle_type", Kind: list.Enum, Enum: VehicleTypes, Filter: true, Order: true},
		textField("make", "v.make", true, false),
		textField("model", "v.model", true, false),
		{Name: "year", Column: "v.year", Kind: list.Int, Order: true, Nullable: true},
		textField("color", "v.color", false, false),
		textField("vin", "v.vin", true, false),
		textField("license_plate", "v.license_plate", true, false),
		{Name: "status", Column: "v.status", Kind: list.Enum, Enum: VehicleStatuses, Filter: true, Order: true},
		{Name: "current_mileage", Column: "v.current_mileage", Kind: list.Int, Order: true},
		{Name: "assigned_to", Column: "v.assigned_to", Kind: list.Int, Filter: true, Order: true, Nullable: true},
		textField("insurance_provider", "v.insurance_provider", false, false),
		textField("insurance_policy_number", "v.insurance_policy_number", false, false),
		{Name: "insurance_expires_at", Column: "v.insurance_expires_at", Kind: list.Date, Order: true, Range: true, Nullable: true},
		{Name: "registration_expires_at", Column: "v.registration_expires_at", Kind: list.Date, Order: true, Range: true, Nullable: true},
		{Name: "latitude", Column: "v.latitude", Order: true, Nullable: true},
		{Name: "longitude", Column: "v.longitude", Order: true, Nullable: true},
		{Name: "location_updated_at", Column: "v.location_updated_at", Kind: list.Time, Order: true, Nullable: true},
		{Name: "purchase_date", Column: "v.purchase_date", Kind: list.Date, Order: true, Range: true, Nullable: true},
		{Name: "purchase_price", Column: "v.purchase_price", Order: true, Nullable: true},
		textField("notes", "v.notes", false, false),
		{Name: "next_service_due_date", Column: "v.next_service_due_date", Kind: list.Date, Order: true, Range: true, Nullable: true},
		{Name: "next_service_due_mileage", Column: "v.next_service_due_mileage", Kind: list.Int, Order: true, Nullable: true},
		{Name: "service_overdue", Kind: list.Bool, Filter: true,
			Where: "(((v.next_service_due_date IS NOT NULL AND v.next_service_due_date < ?) OR " +
				"(v.next_service_due_mileage IS NOT NULL AND v.current_mileage >= v.next_service_due_mileage)) = ?)",
			Args: func(val any, now time.Time) []any { return []any{today(now), val} }},
		{Name: "created_at", Column: "v.created_at", Kind: list.Time, Order: true, Range: true},
		{Name: "updated_at", Column: "v.updated_at", Kind: list.Time, Order: true, Range: true},
	},
}

var vehicleCols = []string{"name", "vehicle_type", "make", "model", "year", "color", "vin", "license_plate", "status",
	"current_mileage", "assigned_to", "insurance_provider", "insurance_policy_number", "insurance_expires_at",
	"registration_expires_at", "latitude", "longitude", "location_updated_at", "purchase_date", "purchase_price", "notes"}

var vehicles = &kind[Vehicle, *Vehicle]{
	table: "vehicles", alias: "v", object: "vehicle", spec: &VehicleSpec,
	cols: vehicleCols,
	values: func(v *Vehicle) []any {
		return []any{v.Name, v.VehicleType, v.Make, v.Model, v.Year, v.Color, v.VIN, v.LicensePlate, v.Status,
			v.CurrentMileage, v.AssignedTo, v.InsuranceProvider, v.InsurancePolicyNumber, v.InsuranceExpiresAt,
			v.RegistrationExpiresAt, v.Latitude, v.Longitude, nullTime(v.LocationUpdatedAt), v.PurchaseDate, v.PurchasePrice, v.Notes}
	},
	selectCols: "v." + strings.Join(vehicleCols, ", v.") + `, v.next_service_due_date, v.next_service_due_mileage,
		COALESCE((SELECT u.email FROM users u WHERE u.id = v.assigned_to), '')`,
	dest: func(v *Vehicle) []any {
		return []any{&v.Name, &v.VehicleType, &v.Make, &v.Model, &v.Year, &v.Color, &v.VIN, &v.LicensePlate, &v.Status,
			&v.CurrentMileage, &v.AssignedTo, &v.InsuranceProvider, &v.InsurancePolicyNumber, &v.InsuranceExpiresAt,
			&v.RegistrationExpiresAt, &v.Latitude, &v.Longitude, &v.LocationUpdatedAt, &v.PurchaseDate, &v.PurchasePrice, &v.Notes,
			&v.NextServiceDueDate, &v.NextServiceDueMileage, &v.AssigneeEmail}
	},
	view: auth.VehiclesView, create: auth.VehiclesCreate, edit: auth.VehiclesEdit, remove: auth.VehiclesDelete,
	prepare: prepareVehicle,
	fields:  vehicleFields,
	repr:    func(v *Vehicle) string { return v.Name },
}

// ListVehicles pages the vehicles the caller may view.
func (s *Store) ListVehicles(ctx context.Context, q list.Query) ([]Vehicle, int, error) {
	return listScoped(ctx, s, vehicles, q)
}

// GetVehicle reads one vehicle.
func (s *Store) GetVehicle(ctx context.Context, id int64) (Vehicle, error) {
	return vehicles.get(ctx, s, id)
}

// CreateVehicle creates a vehicle in v.OrgID (or the caller's only organization).
func (s *Store) CreateVehicle(ctx context.Context, v Vehicle) (Vehicle, error) {
	v.checkAssignee = true
	v.NextServiceDueDate, v.NextServiceDueMileage = nil, nil
	v.stampLocation(Vehicle{}, s.Now())
	v, err := createScoped(ctx, s, vehicles, v)
	return v, vinTaken(err)
}

// UpdateVehicle applies change and saves the vehicle if anything changed.
func (s *Store) UpdateVehicle(ctx context.Context, id int64, change func(*Vehicle) error) (Vehicle, error) {
	v, err := updateScoped(ctx, s, vehicles, id, func(v *Vehicle) error {
		before := *v
		if err := change(v); err != nil {
			return err
		}
		v.NextServiceDueDate, v.NextServiceDueMileage = before.NextServiceDueDate, before.NextServiceDueMileage
		v.checkAssignee = !samePtr(v.AssignedTo, before.AssignedTo)
		v.stampLocation(before, s.Now())
		return nil
	})
	return v, vinTaken(err)
}

// DeleteVehicle deletes a vehicle with its maintenance and fuel logs.
func (s *Store) DeleteVehicle(ctx context.Context, id int64) error {
	return deleteScoped(ctx, s, vehicles, id)
}

// vinTaken reports the one unique index of vehicles (a VIN per organization) on its field.
func vinTaken(err error) error {
	if _, ok := db.IsUnique(err); ok {
		return apperr.Field("vin", "A vehicle with this VIN already exists in this organization.")
	}
	return err
}

// stampLocation sets location_updated_at to now when a write moves the vehicle without saying when
// the position was taken; clearing the position clears it.
func (v *Vehicle) stampLocation(before Vehicle, now time.Time) {
	moved := !samePtr(v.Latitude, before.Latitude) || !samePtr(v.Longitude, before.Longitude)
	if !moved {
		return
	}
	switch {
	case v.Latitude == nil && v.Longitude == nil:
		v.LocationUpdatedAt = nil
	case v.LocationUpdatedAt == nil || before.LocationUpdatedAt != nil && v.LocationUpdatedAt.Equal(*before.LocationUpdatedAt):
		v.LocationUpdatedAt = &now
	}
}

func samePtr[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func prepareVehicle(ctx context.Context, q queryer, c *auth.Caller, v *Vehicle) error {
	errs := apperr.FieldErrors{}
	v.Name = strings.TrimSpace(v.Name)
	if v.Name == "" {
		errs.Add("name", "This field may not be blank.")
	}
	v.VehicleType = cmpOrString(v.VehicleType, "other")
	checkChoice(errs, "vehicle_type", v.VehicleType, VehicleTypes)
	v.Status = cmpOrString(v.Status, "active")
	checkChoice(errs, "status", v.Status, VehicleStatuses)
	trimShort(errs, map[string]*string{"name": &v.Name, "make": &v.Make, "model": &v.Model, "color": &v.Color,
		"license_plate": &v.LicensePlate, "insurance_provider": &v.InsuranceProvider, "insurance_policy_number": &v.InsurancePolicyNumber})
	if len(v.Notes) > maxNotes {
		errs.Add("notes", fmt.Sprintf("Ensure this field has no more than %d characters.", maxNotes))
	}
	if vin, err := NormalizeVIN(v.VIN); err != nil {
		errs.Add("vin", err.Error())
	} else {
		v.VIN = vin
	}
	if v.Year != nil {
		checkInt(errs, "year", *v.Year, 1886, 2100)
	}
	checkInt(errs, "current_mileage", v.CurrentMileage, 0, maxMileage)
	checkRange(errs, "purchase_price", v.PurchasePrice, 0, 1e12)
	checkRange(errs, "latitude", v.Latitude, -90, 90)
	checkRange(errs, "longitude", v.Longitude, -180, 180)
	if (v.Latitude == nil) != (v.Longitude == nil) {
		errs.Add("non_field_errors", "Give both latitude and longitude, or neither.")
	}
	if v.AssignedTo == nil {
		v.AssigneeEmail = ""
	} else if v.checkAssignee {
		err := q.QueryRowContext(ctx, `SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id
			WHERE m.user_id = $1 AND m.organization_id = $2 AND u.is_active`, *v.AssignedTo, v.OrgID).Scan(&v.AssigneeEmail)
		if errors.Is(err, sql.ErrNoRows) {
			errs.Add("assigned_to", fmt.Sprintf("Invalid pk \"%d\" - not an active member of the vehicle's organization.", *v.AssignedTo))
		} else if err != nil {
			return err
		}
	}
	return errs.Err()
}

// checkChoice validates an enumerated value.
func checkChoice(errs apperr.FieldErrors, name, v string, choices []string) {
	if !slices.Contains(choices, v) {
		errs.Add(name, fmt.Sprintf("%q is not a valid choice.", v))
	}
}

// trimShort trims short text fields and bounds their length.
func trimShort(errs apperr.FieldErrors, fields map[string]*string) {
	for name, p := range fields {
		if *p = strings.TrimSpace(*p); utf8.RuneCountInString(*p) > maxShort {
			errs.Add(name, fmt.Sprintf("Ensure this field has no more than %d characters.", maxShort))
		}
	}
}

// vinValues transliterates VIN letters for the check digit (ISO 3779); I, O and Q never occur.
const vinValues = "12345678.12345.7.923456789"

var vinWeights = [17]int{8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2}

// NormalizeVIN upper-cases a vehicle identification number and verifies it: 17 letters and digits,
// no I, O or Q, and the check digit in position 9. Blank means none.
func NormalizeVIN(s string) (string, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	if utf8.RuneCountInString(s) != 17 {
		return s, fmt.Errorf("A VIN has exactly 17 characters (this one has %d).", utf8.RuneCountInString(s))
	}
	sum := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var n int
		switch {
		case c == 'I' || c == 'O' || c == 'Q':
			return s, errors.New("A VIN never contains the letters I, O or Q.")
		case c >= '0' && c <= '9':
			n = int(c - '0')
		case c >= 'A' && c <= 'Z':
			n = int(vinValues[c-'A'] - '0')
		default:
			return s, errors.New("A VIN has only the letters A-Z and the digits 0-9.")
		}
		sum += n * vinWeights[i]
	}
	check := byte('0' + sum%11)
	if sum%11 == 10 {
		check = 'X'
	}
	if s[8] != check {
		return s, fmt.Errorf("The check digit (9th character) does not match: it should be %q.", string(check))
	}
	return s, nil
}

// deref is a pointer's value for the audit log, nil for nil.
func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func vehicleFields(v *Vehicle) map[string]any {
	var located any
	if v.LocationUpdatedAt != nil {
		located = v.LocationUpdatedAt.UTC().Format(time.RFC3339Nano)
	}
	return map[string]any{
		"name": v.Name, "vehicle_type": v.VehicleType, "make": v.Make, "model": v.Model, "year": deref(v.Year), "color": v.Color,
		"vin": v.VIN, "license_plate": v.LicensePlate, "status": v.Status, "current_mileage": v.CurrentMileage,
		"assigned_to": deref(v.AssignedTo), "insurance_provider": v.InsuranceProvider, "insurance_policy_number": v.InsurancePolicyNumber,
		"insurance_expires_at": deref(v.InsuranceExpiresAt), "registration_expires_at": deref(v.RegistrationExpiresAt),
		"latitude": deref(v.Latitude), "longitude": deref(v.Longitude), "location_updated_at": located,
		"purchase_date": deref(v.PurchaseDate), "purchase_price": deref(v.PurchasePrice), "notes": v.Notes,
		"next_service_due_date": deref(v.NextServiceDueDate), "next_service_due_mileage": deref(v.NextServiceDueMileage),
	}
}

// Assignee is a member of an organization a vehicle may be assigned to.
type Assignee struct {
	UserID int64
	Email  string
	Name   string
	OrgID  int64
}

// VehicleAssignees lists the active members of the given organizations, leaving out those where
// the caller may neither create nor edit vehicles: whom the forms offer for assigned_to.
func (s *Store) VehicleAssignees(ctx context.Context, orgs []int64) ([]Assignee, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	allowed := slices.DeleteFunc(slices.Clone(orgs), func(o int64) bool {
		return !c.Reaches(o) || !c.Can(o, auth.VehiclesCreate) && !c.Can(o, auth.VehiclesEdit)
	})
	var sel query
	sel.add(`SELECT u.id, u.email, u.name, m.organization_id FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.is_active AND `)
	sel.inList("m.organization_id", allowed)
	sel.add(" ORDER BY u.email, m.organization_id")
	rows, err := s.r.QueryContext(ctx, sel.String(), sel.args...)
	if err != nil {
		return nil, wrap(err, "vehicle assignees")
	}
	defer rows.Close()
	var out []Assignee
	for rows.Next() {
		var a Assignee
		if err := rows.Scan(&a.UserID, &a.Email, &a.Name, &a.OrgID); err != nil {
			return nil, wrap(err, "vehicle assignees")
		}
		out = append(out, a)
	}
	return out, wrap(rows.Err(), "vehicle assignees")
}

// unassignVehicles clears a former member's vehicle assignments in an organization (in the
// transaction that removes the membership), one audited update per vehicle.
func (s *Store) unassignVehicles(ctx context.Context, tx *sql.Tx, org, user int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, name FROM vehicles WHERE organization_id = $1 AND assigned_to = $2`, org, user)
	if err != nil {
		return err
	}
	type vehicle struct {
		id   int64
		name string
	}
	var vs []vehicle
	for rows.Next() {
		var v vehicle
		if err := rows.Scan(&v.id, &v.name); err != nil {
			rows.Close()
			return err
		}
		vs = append(vs, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, v := range vs {
		if _, err := tx.ExecContext(ctx, `UPDATE vehicles SET assigned_to = NULL, updated_at = $1 WHERE id = $2`, s.Now(), v.id); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, &org, "update", "vehicle", &v.id, v.name, Changes{"assigned_to": []any{user, nil}}); err != nil {
			return err
		}
	}
	return nil
}

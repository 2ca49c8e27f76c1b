package api

import (
	"context"
	"net/http"
	"time"

	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// Vehicle is the API shape of a service vehicle.
type Vehicle struct {
	ID                    int64      `json:"id" api:"ro"`
	URL                   string     `json:"url" api:"ro,uri"`
	Organization          int64      `json:"organization" api:"create-only"`
	OrganizationName      string     `json:"organization_name" api:"ro"`
	Name                  string     `json:"name" api:"req"`
	VehicleType           string     `json:"vehicle_type"`
	Make                  string     `json:"make"`
	Model                 string     `json:"model"`
	Year                  *int       `json:"year"`
	Color                 string     `json:"color"`
	VIN                   string     `json:"vin"`
	LicensePlate          string     `json:"license_plate"`
	Status                string     `json:"status"`
	CurrentMileage        int        `json:"current_mileage"`
	AssignedTo            *int64     `json:"assigned_to"`
	AssignedToEmail       *string    `json:"assigned_to_email" api:"ro"`
	InsuranceProvider     string     `json:"insurance_provider"`
	InsurancePolicyNumber string     `json:"insurance_policy_number"`
	InsuranceExpiresAt    *string    `json:"insurance_expires_at" api:"date"`
	RegistrationExpiresAt *string    `json:"registration_expires_at" api:"date"`
	Latitude              *float64   `json:"latitude"`
	Longitude             *float64   `json:"longitude"`
	LocationUpdatedAt     *time.Time `json:"location_updated_at"`
	PurchaseDate          *string    `json:"purchase_date" api:"date"`
	PurchasePrice         *float64   `json:"purchase_price"`
	Notes                 string     `json:"notes"`
	NextServiceDueDate    *string    `json:"next_service_due_date" api:"ro,date"`
	NextServiceDueMileage *int       `json:"next_service_due_mileage" api:"ro"`
	ServiceOverdue        bool       `json:"service_overdue" api:"ro"`
	CreatedAt             time.Time  `json:"created_at" api:"ro"`
	UpdatedAt             time.Time  `json:"updated_at" api:"ro"`
}

// MaintenanceRecord is one entry of a vehicle's maintenance history.
type MaintenanceRecord struct {
	ID               int64     `json:"id" api:"ro"`
	Vehicle          int64     `json:"vehicle" api:"ro"`
	MaintenanceType  string    `json:"maintenance_type" api:"req"`
	ServiceDate      string    `json:"service_date" api:"date"`
	MileageAtService *int      `json:"mileage_at_service"`
	PerformedBy      string    `json:"performed_by"`
	Cost             *float64  `json:"cost"`
	NextDueDate      *string   `json:"next_due_date" api:"date"`
	NextDueMileage   *int      `json:"next_due_mileage"`
	Notes            string    `json:"notes"`
	CreatedAt        time.Time `json:"created_at" api:"ro"`
}

// FuelRecord is one fill-up of a vehicle's fuel log.
type FuelRecord struct {
	ID        int64     `json:"id" api:"ro"`
	Vehicle   int64     `json:"vehicle" api:"ro"`
	Date      string    `json:"date" api:"date"`
	Mileage   int       `json:"mileage" api:"req"`
	Gallons   float64   `json:"gallons" api:"req"`
	TotalCost *float64  `json:"total_cost"`
	Station   string    `json:"station"`
	MPG       *float64  `json:"mpg" api:"ro"`
	CreatedAt time.Time `json:"created_at" api:"ro"`
}

func (h *Handler) vehicle(r *http.Request, v store.Vehicle) Vehicle {
	var email *string
	if v.AssigneeEmail != "" {
		email = &v.AssigneeEmail
	}
	return Vehicle{ID: v.ID, URL: h.objectURL(r, "vehicles", v.ID), Organization: v.OrgID, OrganizationName: v.OrgName, Name: v.Name,
		VehicleType: v.VehicleType, Make: v.Make, Model: v.Model, Year: v.Year, Color: v.Color, VIN: v.VIN,
		LicensePlate: v.LicensePlate, Status: v.Status, CurrentMileage: v.CurrentMileage, AssignedTo: v.AssignedTo,
		AssignedToEmail: email, InsuranceProvider: v.InsuranceProvider, InsurancePolicyNumber: v.InsurancePolicyNumber,
		InsuranceExpiresAt: datePtr(v.InsuranceExpiresAt), RegistrationExpiresAt: datePtr(v.RegistrationExpiresAt),
		Latitude: v.Latitude, Longitude: v.Longitude, LocationUpdatedAt: v.LocationUpdatedAt, PurchaseDate: datePtr(v.PurchaseDate),
		PurchasePrice: v.PurchasePrice, Notes: v.Notes, NextServiceDueDate: datePtr(v.NextServiceDueDate),
		NextServiceDueMileage: v.NextServiceDueMileage, ServiceOverdue: v.ServiceOverdue(h.store.Now()),
		CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
}

func maintenanceRecord(_ *http.Request, m store.Maintenance) MaintenanceRecord {
	return MaintenanceRecord{ID: m.ID, Vehicle: m.VehicleID, MaintenanceType: m.MaintenanceType, ServiceDate: string(m.ServiceDate),
		MileageAtService: m.MileageAtService, PerformedBy: m.PerformedBy, Cost: m.Cost, NextDueDate: datePtr(m.NextDueDate),
		NextDueMileage: m.NextDueMileage, Notes: m.Notes, CreatedAt: m.CreatedAt}
}

func fuelRecord(_ *http.Request, f store.FuelEntry) FuelRecord {
	return FuelRecord{ID: f.ID, Vehicle: f.VehicleID, Date: string(f.Date), Mileage: f.Mileage, Gallons: f.Gallons,
		TotalCost: f.TotalCost, Station: f.Station, MPG: f.MPG, CreatedAt: f.CreatedAt}
}

// optInt takes a whole number or null.
func (b *body) optInt(name string, dst **int) {
	if !b.has(name) {
		return
	}
	*dst = nil
	var n int
	if !b.isNull(name) && b.integer(name, &n) {
		*dst = &n
	}
}

// day takes a date whose omission (or null) means the store's default, today.
func (b *body) day(name string, dst *store.Date) {
	var d *store.Date
	b.optDate(name, &d)
	if d != nil {
		*dst = *d
	}
}

func applyVehicle(b *body, v *store.Vehicle, replace bool) {
	if replace { // back to defaults, keeping what the maintenance log and the assignment derive
		*v = store.Vehicle{Scoped: v.Scoped, NextServiceDueDate: v.NextServiceDueDate, NextServiceDueMileage: v.NextServiceDueMileage,
			AssigneeEmail: v.AssigneeEmail}
		b.require("name")
	}
	b.org(&v.OrgID)
	b.str("name", &v.Name)
	b.str("vehicle_type", &v.VehicleType)
	b.str("make", &v.Make)
	b.str("model", &v.Model)
	b.optInt("year", &v.Year)
	b.str("color", &v.Color)
	b.str("vin", &v.VIN)
	b.str("license_plate", &v.LicensePlate)
	b.str("status", &v.Status)
	b.integer("current_mileage", &v.CurrentMileage)
	b.optID("assigned_to", &v.AssignedTo)
	b.str("insurance_provider", &v.InsuranceProvider)
	b.str("insurance_policy_number", &v.InsurancePolicyNumber)
	b.optDate("insurance_expires_at", &v.InsuranceExpiresAt)
	b.optDate("registration_expires_at", &v.RegistrationExpiresAt)
	b.optFloat("latitude", &v.Latitude)
	b.optFloat("longitude", &v.Longitude)
	b.optTime("location_updated_at", &v.LocationUpdatedAt)
	b.optDate("purchase_date", &v.PurchaseDate)
	b.optFloat("purchase_price", &v.PurchasePrice)
	b.str("notes", &v.Notes)
	b.readOnly("id", "url", "assigned_to_email", "next_service_due_date", "next_service_due_mileage", "service_overdue",
		"created_at", "updated_at")
}

func applyMaintenance(b *body, m *store.Maintenance, _ bool) {
	b.require("maintenance_type")
	b.str("maintenance_type", &m.MaintenanceType)
	b.day("service_date", &m.ServiceDate)
	b.optInt("mileage_at_service", &m.MileageAtService)
	b.str("performed_by", &m.PerformedBy)
	b.optFloat("cost", &m.Cost)
	b.optDate("next_due_date", &m.NextDueDate)
	b.optInt("next_due_mileage", &m.NextDueMileage)
	b.str("notes", &m.Notes)
	b.readOnly("id", "vehicle", "created_at")
}

func applyFuel(b *body, f *store.FuelEntry, _ bool) {
	b.require("mileage", "gallons")
	b.day("date", &f.Date)
	b.integer("mileage", &f.Mileage)
	if b.has("gallons") && b.isNull("gallons") {
		b.errs.Add("gallons", "This field may not be null.")
	} else {
		b.decode("gallons", &f.Gallons, "A valid number is required.")
	}
	b.optFloat("total_cost", &f.TotalCost)
	b.str("station", &f.Station)
	b.readOnly("id", "vehicle", "mpg", "created_at")
}

func (h *Handler) listVehicles(w http.ResponseWriter, r *http.Request) {
	serveList(h, w, r, &store.VehicleSpec, func(q list.Query) ([]store.Vehicle, int, error) {
		return h.store.ListVehicles(r.Context(), q)
	}, func(v store.Vehicle) Vehicle { return h.vehicle(r, v) })
}

func (h *Handler) getVehicle(w http.ResponseWriter, r *http.Request) {
	get(h, w, r, h.store.GetVehicle, h.vehicle)
}

func (h *Handler) createVehicle(w http.ResponseWriter, r *http.Request) {
	create(h, w, r, applyVehicle, h.store.CreateVehicle, h.vehicle, "vehicles", func(v store.Vehicle) int64 { return v.ID })
}

func (h *Handler) replaceVehicle(w http.ResponseWriter, r *http.Request) {
	update(h, w, r, true, applyVehicle, h.store.UpdateVehicle, h.vehicle)
}

func (h *Handler) patchVehicle(w http.ResponseWriter, r *http.Request) {
	update(h, w, r, false, applyVehicle, h.store.UpdateVehicle, h.vehicle)
}

func (h *Handler) deleteVehicle(w http.ResponseWriter, r *http.Request) {
	remove(h, w, r, h.store.DeleteVehicle)
}

// vehicleLog serves one of a vehicle's logs: GET vehicles/{id}/<log>/ lists it, POST adds an entry,
// and GET <resource>/{id}/ reads one entry (the address a new entry's Location names, after
// webhook-deliveries/{id}).
func vehicleLog[S, T any](h *Handler, resource string, spec *list.Spec, apply applyFunc[S],
	fetch func(context.Context, int64, list.Query) ([]S, int, error), add func(context.Context, int64, S) (S, error),
	load func(context.Context, int64) (S, error), convert func(*http.Request, S) T, entryID func(S) int64) (listFn, addFn, getFn http.HandlerFunc) {
	listFn = func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		serveList(h, w, r, spec, func(q list.Query) ([]S, int, error) { return fetch(r.Context(), id, q) },
			func(s S) T { return convert(r, s) })
	}
	addFn = func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		create(h, w, r, apply, func(ctx context.Context, s S) (S, error) { return add(ctx, id, s) }, convert, resource, entryID)
	}
	getFn = func(w http.ResponseWriter, r *http.Request) { get(h, w, r, load, convert) }
	return listFn, addFn, getFn
}

// vehicleLogEndpoints declares the maintenance and fuel logs.
func (h *Handler) vehicleLogEndpoints() []endpoint {
	listM, addM, getM := vehicleLog(h, "vehicle-maintenance", &store.MaintenanceSpec, applyMaintenance, h.store.ListMaintenance,
		h.store.AddMaintenance, h.store.GetMaintenance, maintenanceRecord, func(m store.Maintenance) int64 { return m.ID })
	listF, addF, getF := vehicleLog(h, "vehicle-fuel", &store.FuelSpec, applyFuel, h.store.ListFuel,
		h.store.AddFuel, h.store.GetFuel, fuelRecord, func(f store.FuelEntry) int64 { return f.ID })
	return []endpoint{
		{method: "GET", path: "vehicles/{id}/maintenance", handler: listM, out: MaintenanceRecord{}, status: 200,
			list: &store.MaintenanceSpec, summary: "List a vehicle's maintenance history"},
		{method: "POST", path: "vehicles/{id}/maintenance", handler: addM, in: MaintenanceRecord{}, out: MaintenanceRecord{}, status: 201,
			summary: "Record a service (needs vehicles.edit); a higher mileage raises current_mileage, next due values set the schedule"},
		{method: "GET", path: "vehicle-maintenance/{id}", handler: getM, out: MaintenanceRecord{}, status: 200,
			summary: "Get a maintenance record"},
		{method: "GET", path: "vehicles/{id}/fuel", handler: listF, out: FuelRecord{}, status: 200,
			list: &store.FuelSpec, summary: "List a vehicle's fuel log"},
		{method: "POST", path: "vehicles/{id}/fuel", handler: addF, in: FuelRecord{}, out: FuelRecord{}, status: 201,
			summary: "Record a fill-up (needs vehicles.edit); mpg comes from the previous fill-up, a higher mileage raises current_mileage"},
		{method: "GET", path: "vehicle-fuel/{id}", handler: getF, out: FuelRecord{}, status: 200,
			summary: "Get a fill-up"},
	}
}

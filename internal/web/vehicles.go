package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// Vehicle pages: the fleet list (filters and the overdue badge), a vehicle with its maintenance and
// fuel history and the forms to add to them, and the create/edit form. Forms are kept as the posted
// url.Values, so a refused form comes back as it was typed.

func (h *Handler) vehicleList(w http.ResponseWriter, r *http.Request) {
	v := map[string]any{"Title": "Vehicles", "Types": store.VehicleTypes, "Statuses": store.VehicleStatuses}
	lq := listFilters(r, &store.VehicleSpec, v, "search", "vehicle_type", "status", "service_overdue", "organization", "page")
	vs, n, err := h.store.ListVehicles(r.Context(), lq)
	if err != nil && !apperr.Is(err, apperr.Forbidden) {
		h.serverError(w, r, err)
		return
	}
	v["Vehicles"], v["Count"], v["Now"] = vs, n, h.store.Now()
	pager(v, lq, n)
	h.render(w, r, http.StatusOK, "vehicle_list", v)
}

func (h *Handler) vehiclePage(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.renderVehicle(w, r, http.StatusOK, id, map[string]any{})
}

// historyQuery is a log's default order, one long page (the API pages the rest).
func historyQuery(spec *list.Spec) list.Query {
	q, _ := list.Parse(spec, url.Values{})
	q.PageSize = list.MaxPageSize
	return q
}

func (h *Handler) renderVehicle(w http.ResponseWriter, r *http.Request, status int, id int64, v map[string]any) {
	ctx := r.Context()
	veh, err := h.store.GetVehicle(ctx, id)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	maint, nm, err := h.store.ListMaintenance(ctx, id, historyQuery(&store.MaintenanceSpec))
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	fuel, nf, err := h.store.ListFuel(ctx, id, historyQuery(&store.FuelSpec))
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	c := auth.CallerFrom(ctx)
	v["Title"], v["V"], v["Maintenance"], v["Fuel"] = veh.Name, veh, maint, fuel
	v["MaintenanceCount"], v["FuelCount"] = nm, nf
	v["Overdue"], v["MaintenanceTypes"], v["Today"] = veh.ServiceOverdue(h.store.Now()), store.MaintenanceTypes, h.store.Now().Format("2006-01-02")
	v["CanEdit"], v["CanDelete"] = c.Can(veh.OrgID, auth.VehiclesEdit), c.Can(veh.OrgID, auth.VehiclesDelete)
	for _, k := range []string{"MForm", "FForm"} {
		if v[k] == nil {
			v[k] = url.Values{}
		}
	}
	h.render(w, r, status, "vehicle", v)
}

// formReader reads a posted form's optional numbers and dates, collecting what it cannot read.
type formReader struct {
	f        url.Values
	problems []string
}

func (fr *formReader) problem(name, what string) {
	fr.problems = append(fr.problems, strings.ReplaceAll(name, "_", " ")+": "+what)
}

// optional reads a field with parse; blank is nil, and a value parse refuses is a problem.
func optional[T any](fr *formReader, name, want string, parse func(string) (T, error)) *T {
	s := strings.TrimSpace(fr.f.Get(name))
	if s == "" {
		return nil
	}
	x, err := parse(s)
	if err != nil {
		fr.problem(name, "enter "+want+".")
		return nil
	}
	return &x
}

func (fr *formReader) optInt(name string) *int {
	return optional(fr, name, "a whole number", strconv.Atoi)
}

func (fr *formReader) optFloat(name string) *float64 {
	return optional(fr, name, "a number", func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
}

func (fr *formReader) optDate(name string) *store.Date {
	return optional(fr, name, "a date (YYYY-MM-DD)", store.ParseDate)
}

// err is the problems as one sentence for the page, or "".
func (fr *formReader) err() string { return strings.Join(fr.problems, "; ") }

// readVehicleForm applies the posted form to v.
func readVehicleForm(f url.Values, v *store.Vehicle) string {
	fr := &formReader{f: f}
	v.Name, v.VehicleType, v.Status, v.Make, v.Model = f.Get("name"), f.Get("vehicle_type"), f.Get("status"), f.Get("make"), f.Get("model")
	v.Color, v.VIN, v.LicensePlate, v.Notes = f.Get("color"), f.Get("vin"), f.Get("license_plate"), f.Get("notes")
	v.InsuranceProvider, v.InsurancePolicyNumber = f.Get("insurance_provider"), f.Get("insurance_policy_number")
	v.Year, v.PurchasePrice = fr.optInt("year"), fr.optFloat("purchase_price")
	v.Latitude, v.Longitude = fr.optFloat("latitude"), fr.optFloat("longitude")
	v.InsuranceExpiresAt, v.RegistrationExpiresAt, v.PurchaseDate = fr.optDate("insurance_expires_at"), fr.optDate("registration_expires_at"), fr.optDate("purchase_date")
	if m := fr.optInt("current_mileage"); m != nil {
		v.CurrentMileage = *m
	}
	v.AssignedTo = nil
	if a := fr.optInt("assigned_to"); a != nil {
		id := int64(*a)
		v.AssignedTo = &id
	}
	return fr.err()
}

// vehicleValues is a vehicle as the form's values.
func vehicleValues(v store.Vehicle) url.Values {
	f := url.Values{}
	set := func(k, s string) {
		if s != "" {
			f.Set(k, s)
		}
	}
	for k, s := range map[string]string{"name": v.Name, "vehicle_type": v.VehicleType, "status": v.Status, "make": v.Make, "model": v.Model,
		"color": v.Color, "vin": v.VIN, "license_plate": v.LicensePlate, "notes": v.Notes, "insurance_provider": v.InsuranceProvider,
		"insurance_policy_number": v.InsurancePolicyNumber, "current_mileage": strconv.Itoa(v.CurrentMileage)} {
		set(k, s)
	}
	for k, d := range map[string]*store.Date{"insurance_expires_at": v.InsuranceExpiresAt, "registration_expires_at": v.RegistrationExpiresAt,
		"purchase_date": v.PurchaseDate} {
		if d != nil {
			set(k, string(*d))
		}
	}
	for k, x := range map[string]*float64{"purchase_price": v.PurchasePrice, "latitude": v.Latitude, "longitude": v.Longitude} {
		if x != nil {
			set(k, strconv.FormatFloat(*x, 'f', -1, 64))
		}
	}
	if v.Year != nil {
		set("year", strconv.Itoa(*v.Year))
	}
	if v.AssignedTo != nil {
		set("assigned_to", strconv.FormatInt(*v.AssignedTo, 10))
	}
	return f
}

// assigneeGroup is one organization's members in the assigned_to choice.
type assigneeGroup struct {
	Org     store.Organization
	Members []store.Assignee
}

func (h *Handler) renderVehicleForm(w http.ResponseWriter, r *http.Request, status int, id int64, org int64, form url.Values, problem string) {
	perm := auth.VehiclesCreate
	if id != 0 {
		perm = auth.VehiclesEdit
	}
	orgs := h.orgsWith(r, perm)
	if id != 0 { // editing: the vehicle's organization only
		orgs = slices.DeleteFunc(orgs, func(o store.Organization) bool { return o.ID != org })
	}
	ids := make([]int64, len(orgs))
	for i, o := range orgs {
		ids[i] = o.ID
	}
	members, err := h.store.VehicleAssignees(r.Context(), ids)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	groups := make([]assigneeGroup, len(orgs))
	for i, o := range orgs {
		groups[i].Org = o
		for _, m := range members {
			if m.OrgID == o.ID {
				groups[i].Members = append(groups[i].Members, m)
			}
		}
	}
	title := "New vehicle"
	if id != 0 {
		title = "Edit " + form.Get("name")
	}
	h.render(w, r, status, "vehicle_form", map[string]any{"Title": title, "ID": id, "Org": org, "Form": form, "Orgs": orgs,
		"Assignees": groups, "Types": store.VehicleTypes, "Statuses": store.VehicleStatuses, "Error": problem})
}

func (h *Handler) vehicleNew(w http.ResponseWriter, r *http.Request) {
	h.renderVehicleForm(w, r, http.StatusOK, 0, 0, url.Values{"vehicle_type": {"van"}, "status": {"active"}, "current_mileage": {"0"}}, "")
}

// vehicleForm serves the vehicle edit page and the create and edit posts.
var vehicleForm = recordForm[store.Vehicle]{
	path: "/vehicles", editPerm: auth.VehiclesEdit, scoped: func(v *store.Vehicle) *store.Scoped { return &v.Scoped },
	get: (*store.Store).GetVehicle, create: (*store.Store).CreateVehicle, update: (*store.Store).UpdateVehicle,
	values: vehicleValues, read: readVehicleForm, render: (*Handler).renderVehicleForm,
}

func vehicleURL(id int64) string { return "/vehicles/" + strconv.FormatInt(id, 10) }

func (h *Handler) vehicleDelete(w http.ResponseWriter, r *http.Request) {
	h.deleteRecord(w, r, h.store.DeleteVehicle, "/vehicles")
}

// vehicleAddEntry adds a maintenance record or a fill-up from the vehicle page's forms; a refused
// entry shows the page again with its form as typed.
func (h *Handler) vehicleAddEntry(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok || !h.parseForm(w, r) {
		http.NotFound(w, r)
		return
	}
	f := r.PostForm
	fr := &formReader{f: f}
	var save func() error
	formKey := "MForm"
	switch r.PathValue("log") {
	case "maintenance":
		m := store.Maintenance{MaintenanceType: f.Get("maintenance_type"), MileageAtService: fr.optInt("mileage_at_service"),
			PerformedBy: f.Get("performed_by"), Cost: fr.optFloat("cost"), NextDueDate: fr.optDate("next_due_date"),
			NextDueMileage: fr.optInt("next_due_mileage"), Notes: f.Get("notes")}
		if d := fr.optDate("service_date"); d != nil {
			m.ServiceDate = *d
		}
		save = func() error { _, err := h.store.AddMaintenance(r.Context(), id, m); return err }
	case "fuel":
		formKey = "FForm"
		fe := store.FuelEntry{TotalCost: fr.optFloat("total_cost"), Station: f.Get("station")}
		if d := fr.optDate("date"); d != nil {
			fe.Date = *d
		}
		if n := fr.optInt("mileage"); n != nil {
			fe.Mileage = *n
		} else {
			fr.problem("mileage", "this field is required.")
		}
		if g := fr.optFloat("gallons"); g != nil {
			fe.Gallons = *g
		}
		save = func() error { _, err := h.store.AddFuel(r.Context(), id, fe); return err }
	default:
		http.NotFound(w, r)
		return
	}
	problem := fr.err()
	if problem == "" {
		var again bool
		if problem, again = h.saved(w, r, save(), vehicleURL(id)); !again {
			return
		}
	}
	h.renderVehicle(w, r, http.StatusBadRequest, id, map[string]any{"Error": problem, formKey: f})
}

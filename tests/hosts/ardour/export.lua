-- Loads the session that create_session.lua made and exports samples 0..FRAMES of the master
-- bus with Session:simple_export() (Ardour's offline export: freewheeling, faster than real
-- time), as 32-bit float WAV without dither or normalisation (the preset the test puts in
-- Ardour's user configuration). Prints the first plugin's parameters as reloaded.
--
--   ardour7-lua export.lua DIR NAME FRAMES PRESET_UUID OUT_FOLDER OUT_NAME

local dir, name, frames, preset, folder, out_name = arg[1], arg[2], tonumber(arg[3]), arg[4], arg[5], arg[6]
assert(out_name, "usage: export.lua DIR NAME FRAMES PRESET_UUID OUT_FOLDER OUT_NAME")

AudioEngine:set_backend("None (Dummy)", "", "")
assert(load_session(dir, name), "Ardour could not load the session " .. dir)

-- The first plugin's parameters as this reloaded session has them: "param NAME = VALUE".
local mix = Session:route_by_name("Mix")
local proc = mix and mix:nth_plugin(0)
if proc and not proc:isnil() then
	local plugin, control = proc:to_insert():plugin(0), 0
	for j = 0, plugin:parameter_count() - 1 do
		if plugin:parameter_is_control(j) and plugin:parameter_is_input(j) then
			print("param " .. plugin:parameter_label(j) .. " = " .. ARDOUR.LuaAPI.get_processor_param(proc, control))
			control = control + 1
		end
	end
end

local export = Session:simple_export()
assert(export:set_preset(preset), "no export preset " .. preset)
export:set_folder(folder)
export:set_name(out_name)
export:set_range(0, frames)
assert(export:check_outputs(), "nothing to export (no master bus outputs)")
assert(export:run_export(), "the export failed")
-- The test reads this line: Ardour 7.3 sometimes dies of heap corruption while it tears down
-- (glibc aborts in close_session or at exit, about one run in six, with or without a plugin),
-- after everything above is on disk.
print("done")
close_session()
